// bench_push.cc - the recording engine under load.
//
//   BM_push_vs_memcpy   ivcs_channel_push_video of real 640x360 H.264 frames
//                       ($IVCS_MEDIA_DIR/clip_h264.h264) while the engine
//                       slices and uploads them, against a memcpy of the same
//                       frame; counters p50/p99 (ns) of both.
//   BM_channels         N channels pushed as fast as the engine frees the
//                       rings for 4 s; counters: uploaded MB/s, engine-thread
//                       CPU seconds, and channels_at_4mbit = uploaded bytes
//                       per engine CPU second / 500 kB/s.
//
// Where uploads go: $IVCS_CONFIG (e.g. the local radosgw over TLS) when set,
// else an in-process HTTP/1.1 sink on loopback (plain http: measures the
// engine without TLS or the S3 server).
#include <benchmark/benchmark.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#include "engine/cloud/engine.h"
#include "engine/codec/nalu.h"
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
            while (left > 0) {
                static thread_local char sink[1 << 16];
                ssize_t r = recv(fd, sink, (size_t)std::min<long long>(left, sizeof sink), 0);
                if (r <= 0) goto out;
                left -= r;
            }
            const char *resp = get ? "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
                                   : "HTTP/1.1 200 OK\r\nETag: \"x\"\r\nContent-Length: 0\r\n\r\n";
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
    ivcs_engine_s *e = nullptr;
    if (ivcs_engine_new(&e, &ec) < 0) return nullptr;
    return e;
}

ivcs_channel_s *open_channel(ivcs_engine_s *e, uint32_t budget)
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

void wait_room(ivcs_channel_s *ch)
{
    ivcs_channel_stats_s st;
    for (;;) {
        ivcs_channel_stats(ch, &st);
        if (st.video_ring_fill_pct < 50) return;
        std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
}

void BM_push_vs_memcpy(benchmark::State &state)
{
    if (!load()) {
        state.SkipWithError("no $IVCS_MEDIA_DIR/clip_h264.h264");
        return;
    }
    ivcs_engine_s *e = make_engine(1);
    ivcs_channel_s *ch = e ? open_channel(e, 8 << 20) : nullptr;
    if (!ch) {
        state.SkipWithError("engine");
        return;
    }
    std::vector<uint8_t> dst(1 << 20);
    std::vector<uint64_t> tp, tm;
    uint64_t pts = 1000, i = 0, bytes = 0;
    for (auto _ : state) {
        const Au &a = g_aus[i % g_aus.size()];
        iv_cm_venc_pack_s pk{};
        pk.pu8Addr = (uint8_t *)a.p;
        pk.u32Len = a.len;
        pk.u64PTS = pts;
        pk.eFrameType = a.key ? IV_CM_FRAME_TYPE_I : IV_CM_FRAME_TYPE_P;
        state.PauseTiming();
        wait_room(ch);
        state.ResumeTiming();
        auto t0 = std::chrono::steady_clock::now();
        int rc = ivcs_channel_push_video(ch, &pk);
        auto t1 = std::chrono::steady_clock::now();
        memcpy(dst.data(), a.p, a.len);
        benchmark::ClobberMemory();
        auto t2 = std::chrono::steady_clock::now();
        if (rc != 0) {
            state.SkipWithError(ivcs_strerror(rc));
            break;
        }
        tp.push_back((uint64_t)std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count());
        tm.push_back((uint64_t)std::chrono::duration_cast<std::chrono::nanoseconds>(t2 - t1).count());
        bytes += a.len;
        pts += 40;
        i++;
    }
    ivcs_channel_stats_s st;
    ivcs_channel_stats(ch, &st);
    state.counters["push_p50_ns"] = (double)pct(tp, 0.5);
    state.counters["push_p99_ns"] = (double)pct(tp, 0.99);
    state.counters["memcpy_p50_ns"] = (double)pct(tm, 0.5);
    state.counters["memcpy_p99_ns"] = (double)pct(tm, 0.99);
    state.counters["avg_frame_B"] = i ? (double)bytes / (double)i : 0;
    state.counters["slices_uploaded"] = (double)st.slices_uploaded;
    ivcs_engine_destroy(e);
}
BENCHMARK(BM_push_vs_memcpy)->Iterations(3000)->UseRealTime();

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
        while (std::chrono::steady_clock::now() - t0 < std::chrono::seconds(4)) {
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

} // namespace

BENCHMARK_MAIN();
