// bench_push.cc - the recording engine under load.
//
//   BM_push_vs_memcpy/<size>/<mode>
//                       ivcs_channel_push_video of real 640x360 H.264 frames
//                       ($IVCS_MEDIA_DIR/clip_h264.h264; size > 0: padded to
//                       size with a filler NAL unit) while the engine slices
//                       and uploads them (mode 1: waits, untimed, for the
//                       engine thread to be idle before each push), after a
//                       warm-up of two ring passes. Counters, p50/p99 ns:
//                       push; memcpy into a hot buffer; memcpy into a
//                       ring-sized buffer from a second copy of the frames
//                       (as cold a source as the push's); spin = a pure ALU
//                       loop as long as the median warm-up push (the
//                       machine's noise floor for that length); wake-up
//                       syscalls per push. IVCS_BENCH_PIN=1: pusher on CPU 0,
//                       engine + sink threads on CPU 1. IVCS_BENCH_RUSAGE=1:
//                       also pushes during which the thread was switched out
//                       or faulted, and the p99 of the others.
//   BM_validate         ivcs_nalu_frame_info alone (the push's validation).
//   BM_paced_channels   N channels at 4 Mbit/s real-time pace for 8 s:
//                       engine CPU %, drops, slice close -> 2xx max.
//                       Second arg: the integrity mode (ivcs_integrity_e:
//                       1 md5 = Content-MD5 from a first pass, 2
//                       sha256-chunked, 3 crc32c-trailer, 4 md5-etag; the
//                       sink answers md5-etag PUTs with the MD5 as ETag).
//   BM_latency          one real-time channel: slice end -> 2xx (= object
//                       visible), slice_ms = Arg.
//   BM_channels         N channels pushed as fast as the engine frees the
//                       rings for 4 s; counters: uploaded MB/s, engine-thread
//                       CPU seconds, and channels_at_4mbit = uploaded bytes
//                       per engine CPU second / 500 kB/s.
//
// Where uploads go: $IVCS_CONFIG (e.g. the local radosgw over TLS) when set,
// else an in-process HTTP/1.1 sink on loopback (plain http: measures the
// engine without TLS or the S3 server).
#include <benchmark/benchmark.h>

#include "smoke.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "engine/record/engine.h"
#include "engine/codec/nalu.h"
#include "engine/net/hash.h"
#include "ivcs.h"

namespace {

struct Au {
    const uint8_t *p;
    uint32_t len;
    bool key;
};
std::vector<uint8_t> g_media;
std::vector<Au> g_aus;
uint16_t g_port;

// IVCS_BENCH_PIN=1: the pushing thread on CPU 0, every other thread of the
// process (the engine thread, the sink's threads) on CPU 1, so the pusher
// is never preempted by them. Threads inherit the affinity of their creator:
// the caller pins itself to CPU 1 before it creates the engine, then to
// CPU 0 (start_sink's threads are pinned by the same rule).
bool pin_wanted()
{
    const char *p = getenv("IVCS_BENCH_PIN");
    return p && !strcmp(p, "1");
}
void pin_self(int cpu)
{
    if (!pin_wanted()) return;
    cpu_set_t s;
    CPU_ZERO(&s);
    CPU_SET(cpu, &s);
    pthread_setaffinity_np(pthread_self(), sizeof s, &s);
}

std::atomic<int> g_sink_md5{0}; // answer PUTs with ETag = MD5 of the body (md5-etag)
int g_integrity = 0;             // make_engine: ivcs_integrity_e, 0: the default (auto)

void *sink_conn(void *arg)
{
    int fd = (int)(intptr_t)arg;
    static thread_local char buf[1 << 16];
    size_t have = 0;
    for (;;) {
        char *end;
        while (!(end = (char *)memmem(buf, have, "\r\n\r\n", 4))) {
            if (have == sizeof buf) goto out;
            ssize_t r = recv(fd, buf + have, sizeof buf - have, 0);
            if (r <= 0) goto out;
            have += (size_t)r;
        }
        {
            size_t hlen = (size_t)(end - buf) + 4;
            long long clen = 0;
            buf[hlen - 1] = 0;
            const char *cl = strcasestr(buf, "\r\ncontent-length:");
            if (cl) clen = atoll(cl + 17);
            bool get = !strncmp(buf, "GET ", 4);
            long long inbuf = (long long)(have - hlen);
            long long take = std::min(inbuf, clen);
            memmove(buf, buf + hlen + take, (size_t)(inbuf - take));
            have = (size_t)(inbuf - take);
            long long left = clen - take;
            bool md5 = !get && g_sink_md5.load(std::memory_order_relaxed);
            ivcs_hash_state_s hs;
            if (md5) {
                ivcs_hash_begin(&hs, IVCS_DIGEST_MD5);
                ivcs_hash_update(&hs, buf + hlen, (size_t)take);
            }
            while (left > 0) {
                static thread_local char sink[1 << 16];
                ssize_t r = recv(fd, sink, (size_t)std::min<long long>(left, sizeof sink), 0);
                if (r <= 0) goto out;
                if (md5) ivcs_hash_update(&hs, sink, (size_t)r);
                left -= r;
            }
            char etag_resp[160];
            const char *resp = get ? "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
                                   : "HTTP/1.1 200 OK\r\nETag: \"x\"\r\nContent-Length: 0\r\n\r\n";
            if (md5) {
                uint8_t d[16];
                char hex[33];
                ivcs_hash_final(&hs, d);
                ivcs_hex_encode(d, sizeof d, hex);
                snprintf(etag_resp, sizeof etag_resp,
                         "HTTP/1.1 200 OK\r\nETag: \"%s\"\r\nContent-Length: 0\r\n\r\n", hex);
                resp = etag_resp;
            }
            if (send(fd, resp, strlen(resp), MSG_NOSIGNAL) < 0) goto out;
        }
    }
out:
    close(fd);
    return nullptr;
}

void start_sink()
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (sockaddr *)&a, sizeof a) || listen(fd, 128)) abort();
    socklen_t l = sizeof a;
    getsockname(fd, (sockaddr *)&a, &l);
    g_port = ntohs(a.sin_port);
    std::thread([fd] {
        pin_self(1); // IVCS_BENCH_PIN: the sink's threads inherit CPU 1
        for (;;) {
            int c = accept(fd, nullptr, nullptr);
            if (c < 0) return;
            pthread_t t;
            pthread_create(&t, nullptr, sink_conn, (void *)(intptr_t)c);
            pthread_detach(t);
        }
    }).detach();
}

bool load()
{
    if (!g_aus.empty()) return true;
    const char *dir = getenv("IVCS_MEDIA_DIR");
    std::string path = std::string(dir ? dir : ".") + "/clip_h264.h264";
    FILE *f = fopen(path.c_str(), "rb");
    if (!f) return false;
    g_media.resize(8 << 20);
    g_media.resize(fread(g_media.data(), 1, g_media.size(), f));
    fclose(f);
    for (size_t off = 0; off < g_media.size();) {
        int64_t l = ivcs_nalu_next_au(IVCS_CODEC_H264, g_media.data() + off,
                                      g_media.size() - off, 1);
        if (l <= 0) break;
        ivcs_frame_info_s fi;
        if (ivcs_nalu_frame_info(IVCS_CODEC_H264, g_media.data() + off, (size_t)l, &fi) == 0)
            g_aus.push_back({g_media.data() + off, (uint32_t)l, fi.is_key != 0});
        off += (size_t)l;
    }
    start_sink();
    return !g_aus.empty();
}

int32_t cb_nop(void *, uint32_t) { return 0; }

ivcs_engine_s *make_engine(uint32_t channels)
{
    ivcs_engine_config_s ec;
    ivcs_engine_config_defaults(&ec);
    static iv_cs_balance_info_s plan = {1, 7, CS_TYPE_FULL_TIME, 0};
    char why[160];
    const char *cfgfile = getenv("IVCS_CONFIG");
    if (cfgfile && *cfgfile) {
        if (ivcs_config_load(&ec.cloud, cfgfile, why, sizeof why) < 0) return nullptr;
        snprintf(ec.cloud.device_id, sizeof ec.cloud.device_id, "bench-%ld", (long)getpid());
    } else {
        snprintf(ec.cloud.endpoint, sizeof ec.cloud.endpoint, "http://127.0.0.1:%u", g_port);
        strcpy(ec.cloud.bucket, "ivcs");
        strcpy(ec.cloud.device_id, "bench");
        strcpy(ec.cloud.access_key, "AK");
        strcpy(ec.cloud.secret_key, "SK");
    }
    ec.fixed_plan = &plan;
    ec.max_channels = channels;
    if (g_integrity) ec.cloud.integrity = g_integrity;
    g_sink_md5.store(ec.cloud.integrity == IVCS_INTEGRITY_MD5_ETAG);
    if (const char *sm = getenv("IVCS_BENCH_SLICE_MS")) ec.cloud.slice_ms = (uint32_t)atoi(sm);
    if (const char *t = getenv("IVCS_BENCH_TICK_MS")) ec.wake_tick_ms = (uint32_t)atoi(t);
    ivcs_engine_s *e = nullptr;
    if (ivcs_engine_new(&e, &ec) < 0) return nullptr;
    return e;
}

ivcs_channel_s *open_channel(ivcs_engine_s *e, uint32_t budget,
                             void (*notify)(void *, uint32_t, const ivcs_notify_s *) = nullptr,
                             void *user = nullptr)
{
    ivcs_channel_config_s cc{};
    cc.max_gop_size = budget;
    cc.av_fmt.eVideoType = IV_CM_VENC_TYPE_H264;
    cc.av_fmt.eAudioType = IV_CM_AENC_TYPE_AAC;
    cc.av_fmt.eAudioSampleRate = IV_CM_AENC_SAMPLE_RATE_48000;
    cc.av_fmt.eAudioMode = IV_CM_AENC_MODE_STEREO;
    cc.av_fmt.u32Framerate = 25;
    cc.cb.stream_start = cb_nop;
    cc.cb.stream_stop = cb_nop;
    cc.cb.notify = notify;
    cc.cb.user = user;
    ivcs_channel_s *ch = nullptr;
    if (ivcs_channel_open(e, &cc, &ch) < 0) return nullptr;
    return ch;
}

uint64_t pct(std::vector<uint64_t> &v, double p)
{
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    return v[std::min(v.size() - 1, (size_t)(p * (double)v.size()))];
}

// Waits until the video ring is under half full. Returns 1 if it had to.
int wait_room(ivcs_channel_s *ch)
{
    ivcs_channel_stats_s st;
    for (int waited = 0;; waited = 1) {
        ivcs_channel_stats(ch, &st);
        if (st.video_ring_fill_pct < 50) return waited;
        std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
}

// Voluntary + involuntary context switches and minor faults of this thread
// so far: a push during which they change was interrupted by the scheduler
// or the kernel (counted apart, not dropped).
uint64_t thread_events()
{
    rusage ru;
    getrusage(RUSAGE_THREAD, &ru);
    return (uint64_t)(ru.ru_nvcsw + ru.ru_nivcsw + ru.ru_minflt + ru.ru_majflt);
}

// The noise floor: a dependent chain of multiplies (no memory traffic, no
// kernel entry) calibrated to last `ns`; timed like a push, its p99 is what
// the machine alone (interrupts, the hypervisor taking the vCPU away) does
// to an operation of that length.
struct Spin {
    uint64_t n = 1;
    uint64_t run() const
    {
        uint64_t x = 88172645463325252ull;
        for (uint64_t k = 0; k < n; k++) x = x * 6364136223846793005ull + 1442695040888963407ull;
        benchmark::DoNotOptimize(x);
        return x;
    }
    void calibrate(uint64_t ns)
    {
        n = 1 << 16;
        auto t0 = std::chrono::steady_clock::now();
        for (int k = 0; k < 16; k++) run();
        double per = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0)
                         .count() /
                     (16.0 * (double)n);
        n = std::max<uint64_t>(1, (uint64_t)((double)ns / per));
    }
};

// Waits, untimed, until the engine thread has used no CPU for 2 ms.
void wait_engine_idle(ivcs_engine_s *e)
{
    double c0 = ivcs_engine_thread_cpu_s(e);
    for (;;) {
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
        double c1 = ivcs_engine_thread_cpu_s(e);
        if (c1 == c0) return;
        c0 = c1;
    }
}

// Arg 0: frame size (0: the clip's frames, else padded to it); Arg 1:
// 0 = the engine busy (pushes as fast as the ring frees: it MD5s, muxes and
// uploads all the time), 1 = the engine idle at each push (waits for it),
// 2 = paced: 1 ms (untimed) between pushes, 20 MB/s at 20 KB - some 40
// cameras of 4 Mbit/s - so the engine uploads while pushes arrive at a rate
// a device can produce.
void BM_push_vs_memcpy(benchmark::State &state)
{
    if (!load()) {
        state.SkipWithError("no $IVCS_MEDIA_DIR/clip_h264.h264");
        return;
    }
    const int mode = (int)state.range(1);
    cpu_set_t was;
    pthread_getaffinity_np(pthread_self(), sizeof was, &was);
    struct Restore {
        cpu_set_t *m;
        ~Restore() { pthread_setaffinity_np(pthread_self(), sizeof *m, m); }
    } restore{&was};
    pin_self(1);
    ivcs_engine_s *e = make_engine(1);
    pin_self(0);
    ivcs_channel_s *ch = e ? open_channel(e, 8 << 20) : nullptr;
    if (!ch) {
        state.SkipWithError("engine");
        return;
    }
    // Arg > 0: every frame padded to that size with a filler NAL unit
    // (type 12), which validation must walk like any other NAL unit.
    // Two copies of the frames: the push reads one, the ring-sized memcpy
    // the other, so both read a source as cold (6 MB of frames rotate: an
    // encoder's output is not in this core's cache either).
    const size_t pad_to = (size_t)state.range(0);
    std::vector<std::vector<uint8_t>> fr[2];
    for (auto &set : fr)
        for (const Au &a : g_aus) {
            std::vector<uint8_t> f(a.p, a.p + a.len);
            if (pad_to && f.size() + 6 < pad_to) {
                f.insert(f.end(), {0, 0, 1, 12});
                f.resize(pad_to - 1, 0xFF);
                f.push_back(0x80);
            }
            set.push_back(std::move(f));
        }
    auto frame = [&](uint64_t k, const uint8_t **p, uint32_t *len) {
        const auto &f = fr[0][k % g_aus.size()];
        *p = f.data();
        *len = (uint32_t)f.size();
    };
    // Two baselines: memcpy into a hot buffer (always offset 0, from the
    // source the push just read: hot), and memcpy of the other copy of the
    // frame into a buffer as large as the channel's video ring at an
    // advancing offset (what any ring's copy costs: cold source and
    // destination lines).
    std::vector<uint8_t> dst(1 << 20);
    std::vector<uint8_t> cold((size_t)ivcs_channel_max_frame(ch) * 2, 0);
    size_t cold_pos = 0;
    std::vector<uint64_t> tp, tm, tc, tq, ts, tw, tpw, tpn, tpk, tpx;
    tp.reserve(state.max_iterations);
    tm.reserve(state.max_iterations);
    tc.reserve(state.max_iterations);
    uint64_t pts = 1000, i = 0, bytes = 0, interrupted = 0;
    const char *ru = getenv("IVCS_BENCH_RUSAGE");
    const bool use_ru = ru && !strcmp(ru, "1");
    // Warm-up, untimed: two passes over the ring so its pages are faulted
    // in (first-touch page faults are a start-up cost, not the push's).
    ivcs_engine_stats_s es0, es1;
    for (uint64_t warm = 0; warm < 2u * (8u << 20);) {
        const Au &a = g_aus[i % g_aus.size()];
        iv_cm_venc_pack_s pk{};
        frame(i, (const uint8_t **)&pk.pu8Addr, &pk.u32Len);
        pk.u64PTS = pts;
        pk.eFrameType = a.key ? IV_CM_FRAME_TYPE_I : IV_CM_FRAME_TYPE_P;
        wait_room(ch);
        auto w0 = std::chrono::steady_clock::now();
        int wrc = ivcs_channel_push_video(ch, &pk);
        auto w1 = std::chrono::steady_clock::now();
        if (wrc != 0) {
            state.SkipWithError("warm-up push");
            ivcs_engine_destroy(e);
            return;
        }
        tw.push_back((uint64_t)std::chrono::duration_cast<std::chrono::nanoseconds>(w1 - w0).count());
        warm += pk.u32Len;
        pts += 40;
        i++;
    }
    Spin spin;
    spin.calibrate(pct(tw, 0.5));
    ivcs_engine_stats(e, &es0);
    const uint64_t i0 = i;
    uint64_t waits = 0;
    for (auto _ : state) {
        const Au &a = g_aus[i % g_aus.size()];
        iv_cm_venc_pack_s pk{};
        frame(i, (const uint8_t **)&pk.pu8Addr, &pk.u32Len);
        const uint8_t *other = fr[1][i % g_aus.size()].data();
        pk.u64PTS = pts;
        pk.eFrameType = a.key ? IV_CM_FRAME_TYPE_I : IV_CM_FRAME_TYPE_P;
        state.PauseTiming();
        const int waited = wait_room(ch);
        waits += waited;
        if (mode == 1) wait_engine_idle(e);
        if (mode == 2) std::this_thread::sleep_for(std::chrono::milliseconds(1));
        uint64_t ev0 = use_ru ? thread_events() : 0;
        ivcs_engine_stats_s ew0, ew1;
        ivcs_engine_stats(e, &ew0);
        state.ResumeTiming();
        auto t0 = std::chrono::steady_clock::now();
        int rc = ivcs_channel_push_video(ch, &pk);
        auto t1 = std::chrono::steady_clock::now();
        bool intr = use_ru && thread_events() != ev0;
        ivcs_engine_stats(e, &ew1);
        auto t1b = std::chrono::steady_clock::now();
        memcpy(dst.data(), pk.pu8Addr, pk.u32Len);
        benchmark::ClobberMemory();
        auto t2 = std::chrono::steady_clock::now();
        if (cold_pos + pk.u32Len > cold.size()) cold_pos = 0;
        memcpy(cold.data() + cold_pos, other, pk.u32Len);
        benchmark::ClobberMemory();
        auto t3 = std::chrono::steady_clock::now();
        cold_pos += (pk.u32Len + 24 + 7) & ~(size_t)7;
        auto t4 = std::chrono::steady_clock::now();
        spin.run();
        auto t5 = std::chrono::steady_clock::now();
        ts.push_back((uint64_t)std::chrono::duration_cast<std::chrono::nanoseconds>(t5 - t4).count());
        if (rc != 0) {
            state.SkipWithError(ivcs_strerror(rc));
            break;
        }
        uint64_t np = (uint64_t)std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count();
        tp.push_back(np);
        (waited ? tpw : tpn).push_back(np);
        (ew1.wakeups != ew0.wakeups ? tpk : tpx).push_back(np);
        if (intr) interrupted++;
        else tq.push_back(np);
        tm.push_back((uint64_t)std::chrono::duration_cast<std::chrono::nanoseconds>(t2 - t1b).count());
        tc.push_back((uint64_t)std::chrono::duration_cast<std::chrono::nanoseconds>(t3 - t2).count());
        bytes += pk.u32Len;
        pts += 40;
        i++;
    }
    ivcs_engine_stats(e, &es1);
    ivcs_channel_stats_s st;
    ivcs_channel_stats(ch, &st);
    state.counters["waited_pct"] = i > i0 ? 100.0 * (double)waits / (double)(i - i0) : 0;
    state.counters["wakeups_per_push"] =
        i > i0 ? (double)(es1.wakeups - es0.wakeups) / (double)(i - i0) : 0;
    state.counters["push_p50_ns"] = (double)pct(tp, 0.5);
    state.counters["push_p90_ns"] = (double)pct(tp, 0.9);
    state.counters["push_p99_ns"] = (double)pct(tp, 0.99);
    if (use_ru) {
        // pushes during which this thread was switched out or faulted
        state.counters["interrupted"] = (double)interrupted;
        state.counters["push_p99_unint_ns"] = (double)pct(tq, 0.99);
    }
    state.counters["memcpy_p50_ns"] = (double)pct(tm, 0.5);
    state.counters["memcpy_p99_ns"] = (double)pct(tm, 0.99);
    state.counters["memcpy_ring_p50_ns"] = (double)pct(tc, 0.5);
    state.counters["memcpy_ring_p99_ns"] = (double)pct(tc, 0.99);
    // pushes right after the pusher slept in wait_room (flow control) and
    // the others
    state.counters["push_after_sleep_p50_ns"] = (double)pct(tpw, 0.5);
    state.counters["push_no_sleep_p99_ns"] = (double)pct(tpn, 0.99);
    // pushes that woke the sleeping engine (a send() on its socketpair)
    // and the others
    state.counters["push_waking_n"] = (double)tpk.size();
    state.counters["push_waking_p50_ns"] = (double)pct(tpk, 0.5);
    state.counters["push_not_waking_p99_ns"] = (double)pct(tpx, 0.99);
    state.counters["spin_p50_ns"] = (double)pct(ts, 0.5);
    state.counters["spin_p99_ns"] = (double)pct(ts, 0.99);
    state.counters["avg_frame_B"] = i > i0 ? (double)bytes / (double)(i - i0) : 0;
    state.counters["slices_uploaded"] = (double)st.slices_uploaded;
    ivcs_engine_destroy(e);
}
BENCHMARK(BM_push_vs_memcpy)
    ->Args({0, 0})
    ->Args({20000, 0})
    ->Args({0, 1})
    ->Args({20000, 1})
    ->Args({0, 2})
    ->Args({20000, 2})
    ->Iterations(ivcs_bench_iters(3000))
    ->UseRealTime();

// The validation part of a push alone (ivcs_nalu_frame_info), per frame.
void BM_validate(benchmark::State &state)
{
    if (!load()) {
        state.SkipWithError("no media");
        return;
    }
    const size_t pad_to = (size_t)state.range(0);
    std::vector<std::vector<uint8_t>> fr;
    for (const Au &a : g_aus) {
        std::vector<uint8_t> f(a.p, a.p + a.len);
        if (pad_to && f.size() + 6 < pad_to) {
            f.insert(f.end(), {0, 0, 1, 12});
            f.resize(pad_to - 1, 0xFF);
            f.push_back(0x80);
        }
        fr.push_back(std::move(f));
    }
    size_t i = 0;
    for (auto _ : state) {
        const auto &f = fr[i++ % fr.size()];
        ivcs_frame_info_s fi;
        benchmark::DoNotOptimize(ivcs_nalu_frame_info(IVCS_CODEC_H264, f.data(), f.size(), &fi));
    }
}
BENCHMARK(BM_validate)->Arg(0)->Arg(20000);

void BM_channels(benchmark::State &state)
{
    if (!load()) {
        state.SkipWithError("no media");
        return;
    }
    const uint32_t n = (uint32_t)state.range(0);
    for (auto _ : state) {
        ivcs_engine_s *e = make_engine(n);
        std::vector<ivcs_channel_s *> chs;
        for (uint32_t c = 0; e && c < n; c++) chs.push_back(open_channel(e, 2 << 20));
        if (!e || std::count(chs.begin(), chs.end(), nullptr)) {
            state.SkipWithError("engine");
            return;
        }
        double cpu0 = ivcs_engine_thread_cpu_s(e);
        auto t0 = std::chrono::steady_clock::now();
        uint64_t i = 0, full = 0;
        while (std::chrono::steady_clock::now() - t0 < std::chrono::milliseconds(ivcs_bench_n(4000, 200))) {
            const Au &a = g_aus[i % g_aus.size()];
            for (auto *ch : chs) {
                iv_cm_venc_pack_s pk{};
                pk.pu8Addr = (uint8_t *)a.p;
                pk.u32Len = a.len;
                pk.u64PTS = 1000 + i * 40;
                pk.eFrameType = a.key ? IV_CM_FRAME_TYPE_I : IV_CM_FRAME_TYPE_P;
                ivcs_channel_stats_s st;
                ivcs_channel_stats(ch, &st);
                while (st.video_ring_fill_pct >= 50) {
                    full++;
                    std::this_thread::sleep_for(std::chrono::microseconds(100));
                    ivcs_channel_stats(ch, &st);
                }
                (void)ivcs_channel_push_video(ch, &pk);
            }
            i++;
        }
        double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        double cpu = ivcs_engine_thread_cpu_s(e) - cpu0;
        uint64_t up = 0, drops = 0;
        for (auto *ch : chs) {
            ivcs_channel_stats_s st;
            ivcs_channel_stats(ch, &st);
            up += st.bytes_uploaded;
            drops += st.slices_dropped;
        }
        state.counters["uploaded_MBps"] = (double)up / wall / 1e6;
        state.counters["engine_cpu_s"] = cpu;
        state.counters["engine_cpu_share"] = cpu / wall;
        state.counters["channels_at_4mbit"] = cpu > 0 ? (double)up / cpu / 500e3 : 0;
        state.counters["drops"] = (double)drops;
        ivcs_engine_destroy(e);
    }
}
BENCHMARK(BM_channels)->Arg(1)->Arg(8)->Arg(64)->Iterations(1)->UseRealTime()->Unit(benchmark::kSecond);

// Frames of the clip padded to `size` bytes with a filler NAL unit (20 KB
// at 25 fps = 4 Mbit/s).
std::vector<std::vector<uint8_t>> padded_frames(size_t size)
{
    std::vector<std::vector<uint8_t>> out;
    for (const Au &a : g_aus) {
        std::vector<uint8_t> f(a.p, a.p + a.len);
        if (f.size() + 6 < size) {
            f.insert(f.end(), {0, 0, 1, 12});
            f.resize(size - 1, 0xFF);
            f.push_back(0x80);
        }
        out.push_back(std::move(f));
    }
    return out;
}

uint64_t wall_ms()
{
    timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

// N channels at real-time pace, 25 fps of 20 KB frames (4 Mbit/s each),
// for 8 s, from one producer thread; the channels' GOPs are staggered so
// their slices do not all close at once. Counters: the engine thread's CPU
// share, slices dropped, pushes refused, slice close -> 2xx (max over
// channels of each channel's max).
void BM_paced_channels(benchmark::State &state)
{
    if (!load()) {
        state.SkipWithError("no media");
        return;
    }
    const uint32_t n = (uint32_t)state.range(0);
    g_integrity = (int)state.range(1);
    state.SetLabel(ivcs_integrity_name(g_integrity));
    auto fr = padded_frames(20000);
    std::vector<size_t> keys;
    for (size_t k = 0; k < g_aus.size(); k++)
        if (g_aus[k].key) keys.push_back(k);
    for (auto _ : state) {
        ivcs_engine_s *e = make_engine(n);
        std::vector<ivcs_channel_s *> chs;
        for (uint32_t c = 0; e && c < n; c++) chs.push_back(open_channel(e, 2 << 20));
        if (!e || std::count(chs.begin(), chs.end(), nullptr)) {
            state.SkipWithError("engine");
            return;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        double cpu0 = ivcs_engine_thread_cpu_s(e);
        auto t0 = std::chrono::steady_clock::now();
        uint64_t refused = 0, late = 0;
        const int frames = ivcs_bench_n(8 * 25, 10);
        for (int k = 0; k < frames; k++) {
            auto due = t0 + std::chrono::milliseconds(40 * k);
            std::this_thread::sleep_until(due);
            if (std::chrono::steady_clock::now() - due > std::chrono::milliseconds(20)) late++;
            for (uint32_t c = 0; c < n; c++) {
                size_t j = (keys[c % keys.size()] + (size_t)k) % g_aus.size();
                iv_cm_venc_pack_s pk{};
                pk.pu8Addr = fr[j].data();
                pk.u32Len = (uint32_t)fr[j].size();
                pk.u64PTS = 1000 + (uint64_t)k * 40;
                pk.eFrameType = g_aus[j].key ? IV_CM_FRAME_TYPE_I : IV_CM_FRAME_TYPE_P;
                refused += ivcs_channel_push_video(chs[c], &pk) != 0;
            }
        }
        double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        double cpu = ivcs_engine_thread_cpu_s(e) - cpu0;
        uint64_t drops = 0, lat = 0, up = 0;
        for (auto *ch : chs) {
            ivcs_channel_stats_s st;
            ivcs_channel_stats(ch, &st);
            drops += st.slices_dropped;
            up += st.slices_uploaded;
            lat = std::max<uint64_t>(lat, st.upload_latency_ms_max);
        }
        ivcs_engine_stats_s es;
        ivcs_engine_stats(e, &es);
        state.counters["engine_cpu_pct"] = 100.0 * cpu / wall;
        state.counters["slices_uploaded"] = (double)up;
        state.counters["slices_dropped"] = (double)drops;
        state.counters["refused"] = (double)refused;
        state.counters["late_ticks"] = (double)late;
        state.counters["close_to_2xx_max_ms"] = (double)lat;
        state.counters["wakeups"] = (double)es.wakeups;
        state.counters["integrity_failures"] = (double)es.integrity_failures;
        ivcs_engine_destroy(e);
    }
    g_integrity = 0;
}
BENCHMARK(BM_paced_channels)
    ->Args({16, IVCS_INTEGRITY_MD5})->Args({64, IVCS_INTEGRITY_MD5})
    ->Args({128, IVCS_INTEGRITY_MD5})->Args({256, IVCS_INTEGRITY_MD5})
    ->Args({256, IVCS_INTEGRITY_SHA256_CHUNKED})->Args({256, IVCS_INTEGRITY_CRC32C_TRAILER})
    ->Args({256, IVCS_INTEGRITY_MD5_ETAG})
    ->Iterations(1)->UseRealTime()->Unit(benchmark::kSecond);

// push -> object visible: one channel at real-time pace (25 fps, the clip's
// 1 s GOP), slice_ms = Arg. For every landed slice (SLICE_UPLOADED is sent
// on the 2xx; radosgw and the sink are read-after-write consistent) the
// time from the push of its first frame to the 2xx, minus the slice's
// duration: what the recording adds after the slice's last frame.
struct LatLog {
    std::mutex mu;
    std::vector<std::pair<uint64_t, uint64_t>> v; // (start_ms + dur_ms, 2xx wall ms)
};
void lat_notify(void *user, uint32_t, const ivcs_notify_s *n)
{
    if (n->kind != IVCS_NOTIFY_SLICE_UPLOADED) return;
    auto *l = (LatLog *)user;
    std::lock_guard<std::mutex> g(l->mu);
    l->v.push_back({n->start_ms + n->dur_ms, wall_ms()});
}
void BM_latency(benchmark::State &state)
{
    if (!load()) {
        state.SkipWithError("no media");
        return;
    }
    for (auto _ : state) {
        setenv("IVCS_BENCH_SLICE_MS", std::to_string(state.range(0)).c_str(), 1);
        ivcs_engine_s *e = make_engine(1);
        unsetenv("IVCS_BENCH_SLICE_MS");
        LatLog log;
        ivcs_channel_s *ch = e ? open_channel(e, 8 << 20, lat_notify, &log) : nullptr;
        if (!ch) {
            state.SkipWithError("engine");
            return;
        }
        auto t0 = std::chrono::steady_clock::now();
        const int frames = ivcs_bench_n(25 * (int)std::max<int64_t>(12, state.range(0) * 5 / 1000), 25);
        for (int k = 0; k < frames; k++) {
            std::this_thread::sleep_until(t0 + std::chrono::milliseconds(40 * k));
            const Au &a = g_aus[(size_t)k % g_aus.size()];
            iv_cm_venc_pack_s pk{};
            pk.pu8Addr = (uint8_t *)a.p;
            pk.u32Len = a.len;
            pk.u64PTS = 1000 + (uint64_t)k * 40;
            pk.eFrameType = a.key ? IV_CM_FRAME_TYPE_I : IV_CM_FRAME_TYPE_P;
            (void)ivcs_channel_push_video(ch, &pk);
        }
        // the last slice is closed only by the flush: not counted
        std::this_thread::sleep_for(std::chrono::milliseconds(ivcs_bench_n(1500, 200)));
        std::vector<uint64_t> after;
        {
            std::lock_guard<std::mutex> g(log.mu);
            // end of a slice = the pts of the frame that closed it; that
            // frame was pushed at the slice's end (real-time pace)
            for (auto &p : log.v) after.push_back(p.second > p.first ? p.second - p.first : 0);
        }
        state.counters["slices"] = (double)after.size();
        state.counters["after_end_p50_ms"] = (double)pct(after, 0.5);
        state.counters["after_end_max_ms"] = after.empty() ? 0 : (double)after.back();
        ivcs_engine_destroy(e);
    }
}
BENCHMARK(BM_latency)->Arg(4000)->Arg(1000)->Iterations(1)->UseRealTime()->Unit(benchmark::kSecond);

} // namespace

BENCHMARK_MAIN();
