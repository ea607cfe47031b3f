// bench_sigv4.cc - cost of SigV4 signing (what every S3 request pays).
//
//   BM_SignSlicePut      a slice PUT as the uploader signs it: UNSIGNED-PAYLOAD,
//                        Content-MD5, cached signing key
//   BM_SignWithToken     the same with an STS session token (~600 bytes)
//   BM_SignNewDay        a cache miss every call: derives the signing key
//   BM_Presign           a presigned GET URL (playlist entries)
//   BM_Sha256_64KiB      the payload hash a signed PUT would need, per 64 KiB
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "engine/net/hash.h"
#include "engine/net/sigv4.h"

namespace {

struct Signer {
    ivcs_sigv4_s s;
    explicit Signer(const char *token = nullptr)
    {
        ivcs_sigv4_config_s cfg{};
        cfg.access_key = "AKIAIOSFODNN7EXAMPLE";
        cfg.secret_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
        cfg.session_token = token;
        cfg.region = "us-east-1";
        cfg.service = "s3";
        if (ivcs_sigv4_init(&s, &cfg) != 0) abort();
    }
    ~Signer() { ivcs_sigv4_cleanup(&s); }
};

const ivcs_sigv4_pair_s kHeaders[] = {{"Host", "ivcs-rec.s3.us-east-1.amazonaws.com"},
                                      {"Content-MD5", "1B2M2Y8AsgTpgAmY7PhCfg=="},
                                      {"Content-Type", "video/mp2t"}};

ivcs_sigv4_request_s slice_put()
{
    ivcs_sigv4_request_s r{};
    r.method = "PUT";
    r.path = "/rec/0123456789abcdef/ch0/2024/05/24/12/20240524T120000.123Z-000123.ts";
    r.headers = kHeaders;
    r.n_headers = 3;
    r.payload_hash = IVCS_SIGV4_UNSIGNED_PAYLOAD;
    r.time = 1716552000;
    return r;
}

void sign_loop(benchmark::State &state, Signer &sg, bool new_day)
{
    ivcs_sigv4_request_s r = slice_put();
    char date[IVCS_SIGV4_DATE_LEN + 1], auth[512];
    for (auto _ : state) {
        if (new_day) r.time += 86400;
        int n = ivcs_sigv4_sign(&sg.s, &r, date, auth, sizeof auth);
        if (n < 0) state.SkipWithError("sign failed");
        benchmark::DoNotOptimize(auth);
    }
    state.SetItemsProcessed(state.iterations());
}

void BM_SignSlicePut(benchmark::State &state)
{
    Signer sg;
    sign_loop(state, sg, false);
}
BENCHMARK(BM_SignSlicePut);

void BM_SignWithToken(benchmark::State &state)
{
    std::string tok(600, 'T');
    Signer sg(tok.c_str());
    sign_loop(state, sg, false);
}
BENCHMARK(BM_SignWithToken);

void BM_SignNewDay(benchmark::State &state)
{
    Signer sg;
    sign_loop(state, sg, true);
}
BENCHMARK(BM_SignNewDay);

void BM_Presign(benchmark::State &state)
{
    Signer sg;
    ivcs_sigv4_request_s r = slice_put();
    r.method = "GET";
    r.n_headers = 1;
    char url[2048];
    for (auto _ : state) {
        if (ivcs_sigv4_presign(&sg.s, &r, "https", 3600, url, sizeof url) < 0)
            state.SkipWithError("presign failed");
        benchmark::DoNotOptimize(url);
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Presign);

void BM_Sha256_64KiB(benchmark::State &state)
{
    std::vector<uint8_t> buf(65536, 0x5a);
    ivcs_digest_s d;
    if (ivcs_digest_init(&d, IVCS_DIGEST_SHA256) != 0) abort();
    uint8_t out[IVCS_SHA256_LEN];
    for (auto _ : state) {
        if (ivcs_digest_begin(&d) || ivcs_digest_update(&d, buf.data(), buf.size()) ||
            ivcs_digest_final(&d, out))
            state.SkipWithError("sha256 failed");
        benchmark::DoNotOptimize(out);
    }
    state.SetBytesProcessed(state.iterations() * (int64_t)buf.size());
    ivcs_digest_cleanup(&d);
}
BENCHMARK(BM_Sha256_64KiB);

} // namespace

BENCHMARK_MAIN();
