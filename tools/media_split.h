/* media_split.h - raw elementary stream files split into frames, as `ivcs
 * mux` and `ivcs push` read them: Annex-B H.264/H.265 video into access
 * units (ivcs_nalu_next_au), ADTS AAC audio into frames (ivcs_adts_parse)
 * and raw G.711/PCM audio into the 1024-samples-per-channel frames the
 * firmware API takes, with the seed sample's timestamps (video i*1000/fps
 * ms, audio samples*1000/rate ms). Frames point into the file's read-only
 * mapping. Every error is printed once, as "ivcs CMD: FILE: frame N (byte
 * offset X): reason (NAME)" (or "ivcs CMD: FILE: reason"). */
#ifndef IVCS_TOOLS_MEDIA_SPLIT_H
#define IVCS_TOOLS_MEDIA_SPLIT_H

#include <stddef.h>
#include <stdint.h>

#include "engine/codec/adts.h"
#include "engine/codec/nalu.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ivcs_media_file_s {
    const char *cmd;  /* "mux": messages read "ivcs mux: ..." */
    const char *path; /* as given (not copied) */
    const uint8_t *p; /* the whole file, read-only */
    size_t len;
} ivcs_media_file_s;

/* Maps the regular, non-empty file path read-only. 0, or -1 with the
 * reason printed (cannot open: strerror / not a regular file / file is
 * empty / mmap). On 0 call ivcs_media_file_unmap (frames die with it). */
int ivcs_media_file_map(ivcs_media_file_s *f, const char *cmd, const char *path);

void ivcs_media_file_unmap(ivcs_media_file_s *f);

/* PTS in ms of video frame i at fps frames per second. */
uint64_t ivcs_media_video_pts_ms(uint64_t i, double fps);

/* Video access units of a file, in order. strict 1: a stream that looks
 * like the other codec, and an AU without frame info (unsupported, e.g.
 * B-frames), are errors; strict 0 (a firmware loop that takes what it
 * can): such AUs are skipped, get no PTS slot and are counted in skipped
 * (the reason of the first in skip_rc, its number among all AUs read in
 * skip_first, e.g. IVCS_ERR_B_FRAME). An AU that is not Annex-B, or is
 * larger than 4 GiB - 64, is an error either way. */
typedef struct ivcs_media_video_s {
    const ivcs_media_file_s *f;
    ivcs_vcodec_e codec;
    double fps;
    int strict;
    size_t off;
    uint64_t n;       /* frames returned so far */
    uint64_t skipped; /* strict 0: AUs skipped so far */
    int skip_rc;      /* the reason of the first skipped AU */
    uint64_t skip_first;
} ivcs_media_video_s;

typedef struct ivcs_media_vframe_s {
    const uint8_t *data;
    uint32_t len;
    uint64_t index;  /* 0, 1, ... (the frame number of messages) */
    uint64_t pts_ms; /* ivcs_media_video_pts_ms(index, fps) */
    ivcs_frame_info_s info;
} ivcs_media_vframe_s;

/* Starts at the beginning of f. 0, or -1 (strict: wrong codec, printed). */
int ivcs_media_video_begin(ivcs_media_video_s *v, const ivcs_media_file_s *f,
                           ivcs_vcodec_e codec, double fps, int strict);

/* The next frame: 1 (*fr filled), 0 (end of file), -1 (error, printed). */
int ivcs_media_video_next(ivcs_media_video_s *v, ivcs_media_vframe_s *fr);

/* ADTS frames of a file, in order. strict 1: a bad or truncated frame, or
 * a format change (rate, channels, profile) mid-stream, is an error; strict
 * 0: the stream ends before the first frame that does not parse, and the
 * bytes left out are in tail_bytes (with the parser's code in tail_rc). */
typedef struct ivcs_media_audio_s {
    const ivcs_media_file_s *f;
    int strict;
    size_t off;
    uint64_t n;            /* frames returned so far */
    uint64_t samples;      /* samples of those frames */
    ivcs_adts_hdr_s first; /* header of frame 0 */
    size_t tail_bytes;     /* strict 0: bytes after the last good frame */
    int tail_rc;
} ivcs_media_audio_s;

typedef struct ivcs_media_aframe_s {
    const uint8_t *data;
    uint32_t len;
    uint64_t index;
    uint64_t pts_ms; /* samples before this frame * 1000 / its sample rate */
    ivcs_adts_hdr_s hdr;
} ivcs_media_aframe_s;

void ivcs_media_audio_begin(ivcs_media_audio_s *a, const ivcs_media_file_s *f, int strict);

/* The next frame: 1 (*fr filled), 0 (end), -1 (strict only: error, printed). */
int ivcs_media_audio_next(ivcs_media_audio_s *a, ivcs_media_aframe_s *fr);

/* The PTS in ms just after the frames returned so far (0 before any). */
uint64_t ivcs_media_audio_end_ms(const ivcs_media_audio_s *a);

/* Audio file formats. AAC is ADTS (the ivcs_media_audio_* splitter above);
 * the others are raw, headerless sample streams (ivcs_media_raw_* below)
 * whose rate and channels the caller knows, stereo interleaved L/R. */
typedef enum {
    IVCS_MEDIA_AFMT_AAC = 0,
    IVCS_MEDIA_AFMT_ALAW, /* G.711 A-law, one byte per sample */
    IVCS_MEDIA_AFMT_ULAW, /* G.711 mu-law, one byte per sample */
    IVCS_MEDIA_AFMT_PCM,  /* signed 16-bit little-endian */
} ivcs_media_afmt_e;

/* "aac", "alaw", "ulaw", "pcm" -> the format; -1 for any other name. */
int ivcs_media_afmt_parse(const char *name);

/* The format a file name's extension says, in any case: .aac .adts, .alaw,
 * .ulaw .mulaw, .s16le .pcm; -1 for another extension or none. */
int ivcs_media_afmt_of_path(const char *path);

/* "aac", "alaw", "ulaw", "pcm". */
const char *ivcs_media_afmt_name(ivcs_media_afmt_e fmt);

/* 1 if rate (Hz) is one the engine takes for G.711/PCM: 8000 11025 12000
 * 16000 22050 24000 32000 44100 48000. */
int ivcs_media_raw_rate_ok(uint32_t rate);

/* Samples per channel in one G.711/PCM frame: the firmware rule. */
#define IVCS_MEDIA_RAW_FRAME_SAMPLES 1024u

/* Raw G.711/PCM frames of a file, in order: each exactly 1024 samples per
 * channel (frame_bytes = 1024 x channels x 1 or 2 bytes), frame i at PTS
 * i*1024*1000/rate ms. A trailing partial frame is never returned. */
typedef struct ivcs_media_raw_s {
    const ivcs_media_file_s *f;
    ivcs_media_afmt_e fmt;
    uint32_t rate, channels;
    uint32_t frame_bytes;
    size_t off;
    uint64_t n; /* frames returned so far */
} ivcs_media_raw_s;

/* Starts at the beginning of f (fmt not AAC, rate per
 * ivcs_media_raw_rate_ok, channels 1 or 2). 0, with one note printed when
 * the file ends in a partial frame (those samples are left out); -1
 * (printed) when the file is shorter than one frame or the parameters are
 * invalid. */
int ivcs_media_raw_begin(ivcs_media_raw_s *r, const ivcs_media_file_s *f, ivcs_media_afmt_e fmt,
                         uint32_t rate, uint32_t channels);

/* The next frame: 1 (*fr filled; fr->hdr is zeroed, it is not ADTS), 0 (end). */
int ivcs_media_raw_next(ivcs_media_raw_s *r, ivcs_media_aframe_s *fr);

/* The PTS in ms just after the frames returned so far (0 before any). */
uint64_t ivcs_media_raw_end_ms(const ivcs_media_raw_s *r);

#ifdef __cplusplus
}
#endif
#endif
