/*
 * test_push_threads_pcm.c - test_push_threads.c with the audio thread
 * pushing 48 kHz stereo PCM, encoded to AAC by the engine thread meanwhile
 * (under ThreadSanitizer; see there).
 */
#define PUSH_PCM 1
#include "test_push_threads.c"
