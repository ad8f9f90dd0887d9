/*
 * C test of the ferrite C ABI, built by `cargo test -p ferrite-c` (tests/c_api.rs) with
 * `gcc -std=c99 -Wall -Wextra -Werror -pedantic`, linked statically and dynamically and
 * run natively and under valgrind.
 *
 * Usage: test_ferrite FIXTURES_DIR
 *   FIXTURES_DIR holds the output of `cargo run -p ferrite --example fixtures` (the Rust
 *   runtime's own results, which this program must reproduce exactly: f32 scores bit for
 *   bit, int8 outputs byte for byte) plus golden.fer, single.fer, the streaming
 *   fixtures stream.fer, stream_frames.bin, stream_expected.bin, and the signing
 *   fixtures single_signed.fer, single_tampered.fer, trusted.pub, other.pub written by
 *   c_api.rs.
 *
 * Prints one line per failed check and ends with "N passed, M failed".
 */
#define _POSIX_C_SOURCE 200112L

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ferrite.h"

#define ROWS 8
#define FEATURES 16
#define CLASSES 4

static int passed, failed;

#define CHECK(cond, ...)                                                                  \
    do {                                                                                  \
        if (cond) {                                                                       \
            passed++;                                                                     \
        } else {                                                                          \
            failed++;                                                                     \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);                                   \
            printf(__VA_ARGS__);                                                          \
            printf("  [last error: %s]\n", fer_last_error_message());                     \
        }                                                                                 \
    } while (0)

/* A call that must return `expected` and leave a message (empty exactly when OK). */
#define EXPECT_STATUS(call, expected)                                                     \
    do {                                                                                  \
        FerStatus st_ = (call);                                                           \
        const char *msg_ = fer_last_error_message();                                      \
        CHECK(st_ == (expected), "%s returned %s, expected %s", #call,                    \
              fer_status_name(st_), fer_status_name(expected));                           \
        CHECK(msg_ != NULL && ((expected) == FER_STATUS_OK) == (msg_[0] == '\0'),         \
              "%s: message \"%s\" for %s", #call, msg_ ? msg_ : "(null)",                 \
              fer_status_name(expected));                                                 \
    } while (0)

#define EXPECT_MESSAGE(needle)                                                            \
    CHECK(strstr(fer_last_error_message(), (needle)) != NULL,                             \
          "message \"%s\" lacks \"%s\"", fer_last_error_message(), (needle))

static char fixtures[1024];

static const char *path(const char *name) {
    static char buf[1200];
    snprintf(buf, sizeof buf, "%s/%s", fixtures, name);
    return buf;
}

/* Reads a whole file into malloc'd memory (at an odd offset on purpose when `odd`). */
static uint8_t *read_file(const char *name, size_t *len) {
    FILE *f = fopen(path(name), "rb");
    uint8_t *buf;
    long n;
    if (!f) {
        printf("cannot open %s\n", path(name));
        exit(2);
    }
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)n + 1);
    if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
        printf("cannot read %s\n", path(name));
        exit(2);
    }
    fclose(f);
    buf[n] = 0;
    *len = (size_t)n;
    return buf;
}

/* Parses `rows` lines of `cols` comma-separated floats. */
static void read_csv(const char *name, float *out, int rows, int cols) {
    size_t len;
    char *text = (char *)read_file(name, &len), *p = text, *end;
    int i;
    for (i = 0; i < rows * cols; i++) {
        out[i] = strtof(p, &end);
        if (end == p) {
            printf("%s: bad number at value %d\n", name, i);
            exit(2);
        }
        p = end;
        while (*p == ',' || *p == '\n' || *p == '\r') p++;
    }
    free(text);
}

/* Parses `rows` lines of hex bytes, `width` bytes each. */
static void read_hex(const char *name, uint8_t *out, int rows, int width) {
    size_t len;
    char *text = (char *)read_file(name, &len), *p = text;
    int r, i;
    for (r = 0; r < rows; r++) {
        for (i = 0; i < width; i++) {
            unsigned v;
            if (sscanf(p, "%2x", &v) != 1) {
                printf("%s: bad hex at row %d byte %d\n", name, r, i);
                exit(2);
            }
            out[r * width + i] = (uint8_t)v;
            p += 2;
        }
        if (*p == '\n') p++;
    }
    free(text);
}

static float inputs[ROWS * FEATURES];
static int labels_f32[ROWS], labels_int8[ROWS];

static void read_labels(void) {
    size_t len;
    char *text = (char *)read_file("labels.txt", &len), *p = text;
    int r;
    for (r = 0; r < ROWS; r++) {
        labels_f32[r] = (int)strtol(p, &p, 10);
        labels_int8[r] = (int)strtol(p, &p, 10);
    }
    free(text);
}

/* Memory aligned to 16 bytes plus `offset` (0..15), from malloc. */
typedef struct {
    void *raw;
    uint8_t *ptr;
} Block;

static Block block_at(size_t len, size_t offset) {
    Block b;
    b.raw = malloc(len + 32);
    b.ptr = (uint8_t *)b.raw + ((16 - ((uintptr_t)b.raw & 15)) & 15) + offset;
    return b;
}

/* ---------------------------------------------------------------------------------- */

static void test_version(void) {
    const char *v = fer_version();
    CHECK(v != NULL && v[0] >= '0' && v[0] <= '9', "fer_version() = %s", v ? v : "(null)");
    CHECK(fer_format_version() >> 16 == 1, "format version %08x", (unsigned)fer_format_version());
    CHECK(strcmp(fer_status_name(FER_STATUS_TRUNCATED), "FER_STATUS_TRUNCATED") == 0, "status name");
    CHECK(strcmp(fer_status_name(FER_STATUS_PANIC), "FER_STATUS_PANIC") == 0, "status name");
    CHECK(strcmp(fer_status_name(12345), "FER_STATUS_UNKNOWN") == 0, "unknown status name");
    CHECK(FER_STATUS_OK == 0 && FER_STATUS_BAD_MAGIC == 1 && FER_STATUS_UNSUPPORTED == 19 &&
              FER_STATUS_NULL_ARGUMENT == 100,
          "status values");
    CHECK(sizeof(FerStatus) == 4, "FerStatus is int32_t");
}

enum LoadMode { LOAD_COPY, LOAD_STATIC_HEAP, LOAD_STATIC_STORAGE };
enum SessionMode { SESSION_LIBRARY, SESSION_ARENA_ALIGNED, SESSION_ARENA_ODD };

typedef struct {
    FerModel *model;
    FerSession *session;
    Block bytes, arena;
    FerModelStorage storage;
} Loaded;

static int load(Loaded *l, const char *name, enum LoadMode lm, enum SessionMode sm) {
    size_t len, arena_len;
    uint8_t *file = read_file(name, &len);
    FerStatus st = FER_STATUS_OTHER;
    memset(l, 0, sizeof *l);
    switch (lm) {
    case LOAD_COPY:
        st = fer_model_load(file, len, &l->model);
        break;
    case LOAD_STATIC_HEAP:
    case LOAD_STATIC_STORAGE:
        l->bytes = block_at(len, 0);
        memcpy(l->bytes.ptr, file, len);
        st = fer_model_load_static(l->bytes.ptr, len, lm == LOAD_STATIC_STORAGE ? &l->storage : NULL,
                                   &l->model);
        break;
    }
    free(file); /* the copying load must not need it any more */
    CHECK(st == FER_STATUS_OK && l->model != NULL, "load %s mode %d", name, (int)lm);
    if (st != FER_STATUS_OK) return 0;
    switch (sm) {
    case SESSION_LIBRARY:
        st = fer_session_new(l->model, &l->session);
        break;
    case SESSION_ARENA_ALIGNED:
    case SESSION_ARENA_ODD:
        fer_session_arena_size(l->model, &arena_len);
        l->arena = block_at(arena_len, sm == SESSION_ARENA_ODD ? 7 : 0);
        st = fer_session_new_in(l->model, l->arena.ptr, arena_len, &l->session);
        break;
    }
    CHECK(st == FER_STATUS_OK && l->session != NULL, "session %s mode %d", name, (int)sm);
    return st == FER_STATUS_OK;
}

static void unload(Loaded *l) {
    fer_session_free(l->session);
    fer_model_free(l->model);
    free(l->arena.raw);
    free(l->bytes.raw);
}

/* Scores of every row equal the Rust runtime's: bytes (hex) and values (CSV). */
static void test_parity(const char *model, const char *csv, const char *hex, const int *labels) {
    float expected[ROWS * CLASSES];
    uint8_t expected_bytes[ROWS * CLASSES * 4];
    int lm, sm, r;
    read_csv(csv, expected, ROWS, CLASSES);
    read_hex(hex, expected_bytes, ROWS, CLASSES * 4);
    for (lm = LOAD_COPY; lm <= LOAD_STATIC_STORAGE; lm++) {
        for (sm = SESSION_LIBRARY; sm <= SESSION_ARENA_ODD; sm++) {
            Loaded l;
            if (!load(&l, model, (enum LoadMode)lm, (enum SessionMode)sm)) continue;
            for (r = 0; r < ROWS; r++) {
                float scores[CLASSES + 2];
                uint8_t out[CLASSES * 4];
                size_t out_len = 0;
                int32_t label = -7;
                scores[CLASSES] = scores[CLASSES + 1] = 42.0f;
                EXPECT_STATUS(fer_predict(l.session, inputs + r * FEATURES, FEATURES, scores,
                                          CLASSES + 2, &label),
                              FER_STATUS_OK);
                CHECK(memcmp(scores, expected_bytes + r * CLASSES * 4, CLASSES * 4) == 0,
                      "%s row %d: scores differ from the runtime's bytes (modes %d/%d)", model, r,
                      lm, sm);
                CHECK(memcmp(scores, expected + r * CLASSES, sizeof(float) * CLASSES) == 0,
                      "%s row %d: scores differ from the runtime's values", model, r);
                CHECK(scores[CLASSES] == 42.0f && scores[CLASSES + 1] == 42.0f,
                      "%s: wrote past the output length", model);
                CHECK(label == labels[r], "%s row %d: label %d, expected %d", model, r,
                      (int)label, labels[r]);
                EXPECT_STATUS(fer_output_bytes(l.session, 0, out, sizeof out, &out_len),
                              FER_STATUS_OK);
                CHECK(out_len == sizeof out &&
                          memcmp(out, expected_bytes + r * CLASSES * 4, sizeof out) == 0,
                      "%s row %d: output bytes", model, r);
            }
            unload(&l);
        }
    }
}

static void test_raw_int8(void) {
    uint8_t in[ROWS * FEATURES], expected[ROWS * CLASSES], out[CLASSES + 1];
    float dequantized[CLASSES];
    FerTensorInfo info;
    Loaded l;
    size_t n;
    int r;
    read_hex("raw_inputs.hex", in, ROWS, FEATURES);
    read_hex("expected_int8_raw.hex", expected, ROWS, CLASSES);
    if (!load(&l, "mlp_int8_raw.fer", LOAD_STATIC_STORAGE, SESSION_ARENA_ODD)) return;
    EXPECT_STATUS(fer_model_input_info(l.model, 0, &info), FER_STATUS_OK);
    CHECK(info.dtype == FER_DTYPE_I8 && info.byte_len == FEATURES && info.elements == FEATURES &&
              info.quant == FER_QUANT_PER_TENSOR && info.scale > 0.0f,
          "raw input info");
    EXPECT_STATUS(fer_model_output_info(l.model, 0, &info), FER_STATUS_OK);
    CHECK(info.dtype == FER_DTYPE_I8 && info.byte_len == CLASSES, "raw output info");
    for (r = 0; r < ROWS; r++) {
        out[CLASSES] = 0xAB;
        EXPECT_STATUS(fer_set_input_bytes(l.session, 0, in + r * FEATURES, FEATURES), FER_STATUS_OK);
        EXPECT_STATUS(fer_run(l.session), FER_STATUS_OK);
        EXPECT_STATUS(fer_output_bytes(l.session, 0, out, sizeof out, &n), FER_STATUS_OK);
        CHECK(n == CLASSES && memcmp(out, expected + r * CLASSES, CLASSES) == 0 && out[CLASSES] == 0xAB,
              "int8 raw row %d: output bytes differ from the runtime's", r);
        EXPECT_STATUS(fer_output_f32(l.session, 0, dequantized, CLASSES, &n), FER_STATUS_OK);
        CHECK(n == CLASSES &&
                  dequantized[0] == info.scale * (float)((int8_t)out[0] - info.zero_point),
              "int8 raw row %d: dequantized output", r);
    }
    unload(&l);
}

static void test_info(void) {
    static const char *names[] = {"north", "east", "south", "west"};
    FerTensorInfo info;
    Loaded l;
    char buf[64];
    size_t n = 0, arena = 0, session_arena = 0;
    size_t i;
    if (!load(&l, "mlp_f32.fer", LOAD_COPY, SESSION_LIBRARY)) return;
    EXPECT_STATUS(fer_model_num_inputs(l.model, &n), FER_STATUS_OK);
    CHECK(n == 1, "inputs %zu", n);
    EXPECT_STATUS(fer_model_num_outputs(l.model, &n), FER_STATUS_OK);
    CHECK(n == 1, "outputs %zu", n);
    EXPECT_STATUS(fer_model_input_info(l.model, 0, &info), FER_STATUS_OK);
    CHECK(info.dtype == FER_DTYPE_F32 && info.rank == 2 && info.shape[0] == 1 &&
              info.shape[1] == FEATURES && info.shape[2] == 0 && info.elements == FEATURES &&
              info.byte_len == 4 * FEATURES && info.quant == FER_QUANT_NONE,
          "input info");
    EXPECT_STATUS(fer_model_output_info(l.model, 0, &info), FER_STATUS_OK);
    CHECK(info.rank == 2 && info.shape[1] == CLASSES && info.elements == CLASSES, "output info");
    EXPECT_STATUS(fer_model_input_name(l.model, 0, buf, sizeof buf, &n), FER_STATUS_OK);
    CHECK(strcmp(buf, "x") == 0 && n == 1, "input name %s", buf);
    EXPECT_STATUS(fer_model_output_name(l.model, 0, buf, sizeof buf, NULL), FER_STATUS_OK);
    CHECK(strcmp(buf, "probs") == 0, "output name %s", buf);
    EXPECT_STATUS(fer_model_num_labels(l.model, &n), FER_STATUS_OK);
    CHECK(n == 4, "labels %zu", n);
    for (i = 0; i < 4; i++) {
        EXPECT_STATUS(fer_model_label(l.model, i, buf, sizeof buf, &n), FER_STATUS_OK);
        CHECK(strcmp(buf, names[i]) == 0 && n == strlen(names[i]), "label %zu = %s", i, buf);
    }
    EXPECT_STATUS(fer_model_name(l.model, buf, sizeof buf, &n), FER_STATUS_OK);
    CHECK(strcmp(buf, "fixture-mlp-f32") == 0, "name %s", buf);
    EXPECT_STATUS(fer_model_version(l.model, buf, sizeof buf, &n), FER_STATUS_OK);
    CHECK(strcmp(buf, "1") == 0, "version %s", buf);
    EXPECT_STATUS(fer_model_description(l.model, buf, sizeof buf, &n), FER_STATUS_OK);
    EXPECT_STATUS(fer_model_producer(l.model, buf, sizeof buf, &n), FER_STATUS_OK);
    EXPECT_STATUS(fer_model_arena_size(l.model, &arena), FER_STATUS_OK);
    CHECK(arena > 0, "arena size %zu", arena);
    EXPECT_STATUS(fer_session_arena_size(l.model, &session_arena), FER_STATUS_OK);
    CHECK(session_arena == arena + FER_SESSION_ARENA_OVERHEAD, "session arena size %zu",
          session_arena);
    EXPECT_STATUS(fer_model_num_golden(l.model, &n), FER_STATUS_OK);
    CHECK(n == 0, "golden %zu", n);
    /* Size query, then an exact fit. */
    n = 0;
    EXPECT_STATUS(fer_model_label(l.model, 2, NULL, 0, &n), FER_STATUS_OK);
    CHECK(n == 5, "size query of \"south\": %zu", n);
    EXPECT_STATUS(fer_model_label(l.model, 2, buf, 6, &n), FER_STATUS_OK);
    CHECK(strcmp(buf, "south") == 0, "exact fit");
    unload(&l);
}

static void test_golden_and_properties(void) {
    Loaded l;
    char buf[32];
    size_t n;
    float x[4] = {1, 1, 1, 1}, y[1];
    int32_t label = 9;
    if (!load(&l, "golden.fer", LOAD_COPY, SESSION_ARENA_ALIGNED)) return;
    EXPECT_STATUS(fer_model_num_golden(l.model, &n), FER_STATUS_OK);
    CHECK(n == 2, "golden vectors %zu", n);
    EXPECT_STATUS(fer_check_golden(l.session, 0), FER_STATUS_OK);
    EXPECT_STATUS(fer_check_golden(l.session, 1), FER_STATUS_GOLDEN_MISMATCH);
    EXPECT_MESSAGE("golden vector 1");
    EXPECT_STATUS(fer_check_golden(l.session, 2), FER_STATUS_NO_SUCH_INDEX);
    EXPECT_STATUS(fer_model_property(l.model, "precision", buf, sizeof buf, &n), FER_STATUS_OK);
    CHECK(strcmp(buf, "f32") == 0 && n == 3, "property precision = %s", buf);
    EXPECT_STATUS(fer_model_property(l.model, "source", buf, sizeof buf, &n), FER_STATUS_OK);
    CHECK(strcmp(buf, "c-test") == 0, "property source = %s", buf);
    EXPECT_STATUS(fer_model_property(l.model, "nope", buf, sizeof buf, &n), FER_STATUS_NOT_FOUND);
    EXPECT_MESSAGE("nope");
    EXPECT_STATUS(fer_model_property(l.model, "\xff\xfe", buf, sizeof buf, &n),
                  FER_STATUS_INVALID_ARGUMENT);
    EXPECT_STATUS(fer_model_property(l.model, NULL, buf, sizeof buf, &n), FER_STATUS_NULL_ARGUMENT);
    EXPECT_STATUS(fer_model_property(l.model, "precision", buf, 3, &n), FER_STATUS_BUFFER_TOO_SMALL);
    CHECK(n == 3, "property size on BUFFER_TOO_SMALL: %zu", n);
    unload(&l);

    /* A single-value output: fer_predict gives label -1. y = 1+2+3+4 + 0.5. */
    if (!load(&l, "single.fer", LOAD_STATIC_HEAP, SESSION_LIBRARY)) return;
    EXPECT_STATUS(fer_predict(l.session, x, 4, y, 1, &label), FER_STATUS_OK);
    CHECK(y[0] == 10.5f && label == -1, "single output %g label %d", (double)y[0], (int)label);
    EXPECT_STATUS(fer_model_num_labels(l.model, &n), FER_STATUS_OK);
    CHECK(n == 0, "no labels");
    EXPECT_STATUS(fer_model_label(l.model, 0, buf, sizeof buf, &n), FER_STATUS_NO_SUCH_INDEX);
    unload(&l);
}

/* Streaming: six fer_step calls on stream.fer equal, bit for bit, the whole-sequence
 * model that c_api.rs ran in Rust (last step's y and h_n); fer_reset starts over. */
static void test_streaming(void) {
    Loaded l;
    size_t len, n;
    float *frames, *expected, y[4], h[4];
    int round, t;
    if (!load(&l, "stream.fer", LOAD_COPY, SESSION_ARENA_ODD)) return;
    frames = (float *)read_file("stream_frames.bin", &len);
    CHECK(len == 18 * sizeof(float), "stream_frames.bin: %u bytes", (unsigned)len);
    expected = (float *)read_file("stream_expected.bin", &len);
    CHECK(len == 8 * sizeof(float), "stream_expected.bin: %u bytes", (unsigned)len);
    EXPECT_STATUS(fer_model_num_states(l.model, &n), FER_STATUS_OK);
    CHECK(n == 1, "stream.fer has %u state pairs", (unsigned)n);
    for (round = 0; round < 2; round++) {
        for (t = 0; t < 6; t++) EXPECT_STATUS(fer_step(l.session, frames + 3 * t, 3, y, 4), FER_STATUS_OK);
        CHECK(memcmp(y, expected, sizeof y) == 0, "round %d: y %g vs %g", round, (double)y[0],
              (double)expected[0]);
        EXPECT_STATUS(fer_output_f32(l.session, 1, h, 4, &n), FER_STATUS_OK);
        CHECK(n == 4 && memcmp(h, expected + 4, sizeof h) == 0, "round %d: h_n", round);
        EXPECT_STATUS(fer_reset(l.session), FER_STATUS_OK);
    }
    /* Without a reset the stream goes on: another step gives another result. */
    EXPECT_STATUS(fer_step(l.session, frames, 3, y, 4), FER_STATUS_OK);
    EXPECT_STATUS(fer_step(l.session, frames, 3, h, 4), FER_STATUS_OK);
    CHECK(memcmp(y, h, sizeof y) != 0, "the state is carried");
    EXPECT_STATUS(fer_step(l.session, frames, 2, y, 4), FER_STATUS_WRONG_LENGTH);
    EXPECT_STATUS(fer_step(l.session, frames, 3, y, 3), FER_STATUS_BUFFER_TOO_SMALL);
    EXPECT_STATUS(fer_step(NULL, frames, 3, y, 4), FER_STATUS_NULL_ARGUMENT);
    EXPECT_STATUS(fer_step(l.session, NULL, 3, y, 4), FER_STATUS_NULL_ARGUMENT);
    EXPECT_STATUS(fer_reset(NULL), FER_STATUS_NULL_ARGUMENT);
    free(frames);
    free(expected);
    unload(&l);
    if (!load(&l, "single.fer", LOAD_COPY, SESSION_LIBRARY)) return;
    EXPECT_STATUS(fer_model_num_states(l.model, &n), FER_STATUS_OK);
    CHECK(n == 0, "single.fer does not stream");
    unload(&l);
}

static void test_null_arguments(void) {
    Loaded l;
    FerModel *m = (FerModel *)&l; /* must be overwritten with NULL on failure */
    FerSession *s = (FerSession *)&l;
    uint8_t bytes[64] = {0};
    float in[FEATURES] = {0}, scores[CLASSES];
    size_t n;
    int32_t label;
    EXPECT_STATUS(fer_model_load(NULL, 10, &m), FER_STATUS_NULL_ARGUMENT);
    EXPECT_MESSAGE("`bytes`");
    CHECK(m == NULL, "out not cleared");
    EXPECT_STATUS(fer_model_load(bytes, sizeof bytes, NULL), FER_STATUS_NULL_ARGUMENT);
    EXPECT_MESSAGE("`out`");
    EXPECT_STATUS(fer_model_load_static(NULL, 64, NULL, &m), FER_STATUS_NULL_ARGUMENT);
    EXPECT_STATUS(fer_model_num_inputs(NULL, &n), FER_STATUS_NULL_ARGUMENT);
    EXPECT_MESSAGE("`model`");
    EXPECT_STATUS(fer_model_arena_size(NULL, &n), FER_STATUS_NULL_ARGUMENT);
    EXPECT_STATUS(fer_model_input_info(NULL, 0, NULL), FER_STATUS_NULL_ARGUMENT);
    EXPECT_STATUS(fer_model_label(NULL, 0, NULL, 0, NULL), FER_STATUS_NULL_ARGUMENT);
    EXPECT_STATUS(fer_session_new(NULL, &s), FER_STATUS_NULL_ARGUMENT);
    CHECK(s == NULL, "out not cleared");
    EXPECT_STATUS(fer_session_new_in(NULL, bytes, sizeof bytes, &s), FER_STATUS_NULL_ARGUMENT);
    EXPECT_STATUS(fer_predict(NULL, in, FEATURES, scores, CLASSES, &label), FER_STATUS_NULL_ARGUMENT);
    EXPECT_MESSAGE("`session`");
    EXPECT_STATUS(fer_run(NULL), FER_STATUS_NULL_ARGUMENT);
    EXPECT_STATUS(fer_set_input_bytes(NULL, 0, bytes, 4), FER_STATUS_NULL_ARGUMENT);
    EXPECT_STATUS(fer_output_bytes(NULL, 0, bytes, 4, &n), FER_STATUS_NULL_ARGUMENT);
    EXPECT_STATUS(fer_check_golden(NULL, 0), FER_STATUS_NULL_ARGUMENT);
    fer_model_free(NULL);
    fer_session_free(NULL);

    if (!load(&l, "mlp_f32.fer", LOAD_COPY, SESSION_LIBRARY)) return;
    EXPECT_STATUS(fer_model_num_inputs(l.model, NULL), FER_STATUS_NULL_ARGUMENT);
    EXPECT_MESSAGE("`out`");
    EXPECT_STATUS(fer_model_input_info(l.model, 0, NULL), FER_STATUS_NULL_ARGUMENT);
    EXPECT_STATUS(fer_session_new_in(l.model, NULL, 4096, &s), FER_STATUS_NULL_ARGUMENT);
    EXPECT_MESSAGE("`arena`");
    EXPECT_STATUS(fer_session_new(l.model, NULL), FER_STATUS_NULL_ARGUMENT);
    EXPECT_STATUS(fer_predict(l.session, NULL, FEATURES, scores, CLASSES, &label),
                  FER_STATUS_NULL_ARGUMENT);
    EXPECT_MESSAGE("`in`");
    CHECK(label == -1, "label_out on failure: %d", (int)label);
    EXPECT_STATUS(fer_predict(l.session, in, FEATURES, NULL, CLASSES, &label),
                  FER_STATUS_NULL_ARGUMENT);
    EXPECT_MESSAGE("`scores`");
    /* label_out is optional. */
    EXPECT_STATUS(fer_predict(l.session, in, FEATURES, scores, CLASSES, NULL), FER_STATUS_OK);
    EXPECT_STATUS(fer_set_input_bytes(l.session, 0, NULL, 64), FER_STATUS_NULL_ARGUMENT);
    EXPECT_STATUS(fer_output_bytes(l.session, 0, NULL, 16, &n), FER_STATUS_NULL_ARGUMENT);
    EXPECT_STATUS(fer_output_f32(l.session, 0, NULL, 4, &n), FER_STATUS_NULL_ARGUMENT);
    EXPECT_STATUS(fer_model_name(l.model, NULL, 10, &n), FER_STATUS_NULL_ARGUMENT);
    unload(&l);
}

static void test_sizes_and_lengths(void) {
    Loaded l;
    float in[FEATURES + 1], scores[CLASSES];
    uint8_t out[16];
    char buf[8];
    size_t n;
    int32_t label;
    int i;
    memcpy(in, inputs, sizeof(float) * FEATURES);
    in[FEATURES] = 0.0f;
    if (!load(&l, "mlp_f32.fer", LOAD_COPY, SESSION_ARENA_ODD)) return;
    /* Buffers too small. */
    EXPECT_STATUS(fer_predict(l.session, in, FEATURES, scores, CLASSES - 1, &label),
                  FER_STATUS_BUFFER_TOO_SMALL);
    EXPECT_MESSAGE("need 4 values, got 3");
    EXPECT_STATUS(fer_predict(l.session, in, FEATURES, scores, 0, &label), FER_STATUS_BUFFER_TOO_SMALL);
    n = 0;
    EXPECT_STATUS(fer_output_bytes(l.session, 0, out, 15, &n), FER_STATUS_BUFFER_TOO_SMALL);
    CHECK(n == 16, "needed size reported on BUFFER_TOO_SMALL: %zu", n);
    n = 0;
    EXPECT_STATUS(fer_output_bytes(l.session, 0, NULL, 0, &n), FER_STATUS_OK);
    CHECK(n == 16, "size query: %zu", n);
    EXPECT_STATUS(fer_output_f32(l.session, 0, scores, 3, &n), FER_STATUS_BUFFER_TOO_SMALL);
    CHECK(n == 4, "f32 size: %zu", n);
    EXPECT_STATUS(fer_model_name(l.model, buf, sizeof buf, &n), FER_STATUS_BUFFER_TOO_SMALL);
    CHECK(n == strlen("fixture-mlp-f32"), "name size: %zu", n);
    EXPECT_STATUS(fer_model_label(l.model, 0, buf, 5, &n), FER_STATUS_BUFFER_TOO_SMALL);
    EXPECT_MESSAGE("need 6 bytes, got 5");
    /* Wrong lengths. */
    EXPECT_STATUS(fer_predict(l.session, in, FEATURES - 1, scores, CLASSES, &label),
                  FER_STATUS_WRONG_LENGTH);
    EXPECT_MESSAGE("expected 16 values, got 15");
    EXPECT_STATUS(fer_predict(l.session, in, FEATURES + 1, scores, CLASSES, &label),
                  FER_STATUS_WRONG_LENGTH);
    EXPECT_STATUS(fer_predict(l.session, in, 0, scores, CLASSES, &label), FER_STATUS_WRONG_LENGTH);
    EXPECT_STATUS(fer_set_input_bytes(l.session, 0, out, 15), FER_STATUS_WRONG_LENGTH);
    EXPECT_STATUS(fer_set_input_f32(l.session, 0, in, 3), FER_STATUS_WRONG_LENGTH);
    /* Indices. */
    EXPECT_STATUS(fer_set_input_bytes(l.session, 1, out, 16), FER_STATUS_NO_SUCH_INDEX);
    EXPECT_STATUS(fer_output_bytes(l.session, 1, out, 16, &n), FER_STATUS_NO_SUCH_INDEX);
    EXPECT_STATUS(fer_model_input_info(l.model, 1, &(FerTensorInfo){0}), FER_STATUS_NO_SUCH_INDEX);
    EXPECT_STATUS(fer_model_label(l.model, 4, buf, sizeof buf, &n), FER_STATUS_NO_SUCH_INDEX);
    /* NaN and infinities are rejected, naming the feature. */
    in[5] = NAN;
    EXPECT_STATUS(fer_predict(l.session, in, FEATURES, scores, CLASSES, &label),
                  FER_STATUS_INVALID_INPUT);
    EXPECT_MESSAGE("feature 5");
    in[5] = 0;
    in[11] = -INFINITY;
    EXPECT_STATUS(fer_predict(l.session, in, FEATURES, scores, CLASSES, &label),
                  FER_STATUS_INVALID_INPUT);
    EXPECT_MESSAGE("feature 11");
    in[11] = 0;
    /* A misaligned float pointer is reported, not dereferenced. */
    EXPECT_STATUS(fer_predict(l.session, (const float *)((const char *)in + 1), FEATURES, scores,
                              CLASSES, &label),
                  FER_STATUS_MISALIGNED);
    /* The session still works after every error. */
    for (i = 0; i < FEATURES; i++) in[i] = inputs[i];
    EXPECT_STATUS(fer_predict(l.session, in, FEATURES, scores, CLASSES, &label), FER_STATUS_OK);
    CHECK(fer_last_error_message()[0] == '\0', "message cleared after OK");
    unload(&l);
}

static void test_bad_models(void) {
    size_t len, cuts[] = {0, 1, 3, 4, 16, 31, 32, 33, 48, 64, 100, 0, 0, 0}, ncuts = 11, i;
    uint8_t *file = read_file("mlp_f32.fer", &len);
    Block copy = block_at(len, 0), shifted = block_at(len, 1);
    FerModel *m;
    FerModelStorage storage;
    cuts[ncuts++] = len / 2;
    cuts[ncuts++] = len - 16;
    cuts[ncuts++] = len - 1;
    /* Truncated at many lengths: copying and zero-copy loads both refuse. */
    for (i = 0; i < ncuts; i++) {
        FerStatus st = fer_model_load(file, cuts[i], &m);
        CHECK(st != FER_STATUS_OK && st != FER_STATUS_PANIC && m == NULL &&
                  fer_last_error_message()[0] != '\0',
              "truncated at %zu: %s", cuts[i], fer_status_name(st));
        CHECK(st == FER_STATUS_TRUNCATED, "truncated at %zu: %s", cuts[i], fer_status_name(st));
        memcpy(copy.ptr, file, cuts[i]);
        CHECK(fer_model_load_static(copy.ptr, cuts[i], &storage, &m) == st && m == NULL,
              "zero-copy load truncated at %zu", cuts[i]);
    }
    /* A flipped byte anywhere in the body fails the CRC; in the magic, the magic check. */
    for (i = 40; i < len; i += len / 7) {
        memcpy(copy.ptr, file, len);
        copy.ptr[i] ^= 0x40;
        EXPECT_STATUS(fer_model_load_static(copy.ptr, len, NULL, &m), FER_STATUS_CHECKSUM);
        CHECK(m == NULL, "out cleared");
    }
    EXPECT_MESSAGE("CRC-32");
    memcpy(copy.ptr, file, len);
    copy.ptr[0] ^= 1;
    EXPECT_STATUS(fer_model_load(copy.ptr, len, &m), FER_STATUS_BAD_MAGIC);
    memset(copy.ptr, 0xff, len);
    EXPECT_STATUS(fer_model_load(copy.ptr, len, &m), FER_STATUS_BAD_MAGIC);
    /* Zero-copy needs 16-byte aligned bytes; the copying load does not. */
    memcpy(shifted.ptr, file, len);
    EXPECT_STATUS(fer_model_load_static(shifted.ptr, len, &storage, &m), FER_STATUS_MISALIGNED);
    EXPECT_MESSAGE("16-byte aligned");
    CHECK(m == NULL, "out cleared");
    EXPECT_STATUS(fer_model_load(shifted.ptr, len, &m), FER_STATUS_OK);
    fer_model_free(m);
    free(copy.raw);
    free(shifted.raw);
    free(file);
}

static void test_arenas_and_handles(void) {
    size_t len, arena_len, need, offset;
    uint8_t *file = read_file("mlp_int8.fer", &len);
    Block bytes = block_at(len, 0), arena;
    FerModelStorage storage, zeroed;
    FerModel *m = NULL;
    FerSession *s = NULL;
    float scores[CLASSES], reference[CLASSES];
    int32_t label;
    memcpy(bytes.ptr, file, len);
    EXPECT_STATUS(fer_model_load_static(bytes.ptr, len, &storage, &m), FER_STATUS_OK);
    EXPECT_STATUS(fer_model_arena_size(m, &need), FER_STATUS_OK);
    EXPECT_STATUS(fer_session_arena_size(m, &arena_len), FER_STATUS_OK);
    /* Too small. */
    arena = block_at(arena_len, 0);
    EXPECT_STATUS(fer_session_new_in(m, arena.ptr, need, &s), FER_STATUS_ARENA_TOO_SMALL);
    EXPECT_MESSAGE("arena too small");
    CHECK(s == NULL, "out cleared");
    EXPECT_STATUS(fer_session_new_in(m, arena.ptr, 0, &s), FER_STATUS_ARENA_TOO_SMALL);
    EXPECT_STATUS(fer_session_new_in(m, NULL, 0, &s), FER_STATUS_ARENA_TOO_SMALL);
    free(arena.raw);
    /* The advertised size works at every alignment, with the same results. */
    for (offset = 0; offset < 16; offset++) {
        arena = block_at(arena_len, offset);
        memset(arena.ptr, 0x5a, arena_len);
        EXPECT_STATUS(fer_session_new_in(m, arena.ptr, arena_len, &s), FER_STATUS_OK);
        EXPECT_STATUS(fer_predict(s, inputs, FEATURES, scores, CLASSES, &label), FER_STATUS_OK);
        if (offset == 0) memcpy(reference, scores, sizeof scores);
        CHECK(memcmp(reference, scores, sizeof scores) == 0, "arena offset %zu changes results", offset);
        fer_session_free(s);
        free(arena.raw);
    }
    /* A handle that is not one: zeroed storage, a freed storage-backed model. */
    memset(&zeroed, 0, sizeof zeroed);
    EXPECT_STATUS(fer_model_arena_size((const FerModel *)&zeroed, &need), FER_STATUS_INVALID_ARGUMENT);
    EXPECT_MESSAGE("not a live FerModel");
    fer_model_free(m);
    EXPECT_STATUS(fer_model_arena_size(m, &need), FER_STATUS_INVALID_ARGUMENT);
    EXPECT_STATUS(fer_session_new(m, &s), FER_STATUS_INVALID_ARGUMENT);
    EXPECT_STATUS(fer_predict((FerSession *)&zeroed, inputs, FEATURES, scores, CLASSES, &label),
                  FER_STATUS_INVALID_ARGUMENT);
    free(bytes.raw);
    free(file);
}

/* The last-error message is per thread. */
static void *other_thread(void *arg) {
    FerStatus st = fer_model_load(NULL, 1, NULL);
    (void)arg;
    return (void *)(intptr_t)(st == FER_STATUS_NULL_ARGUMENT &&
                              strstr(fer_last_error_message(), "`out`") != NULL);
}

static void test_threads(void) {
    pthread_t t;
    void *ok = NULL;
    size_t n;
    EXPECT_STATUS(fer_model_num_inputs(NULL, &n), FER_STATUS_NULL_ARGUMENT);
    CHECK(pthread_create(&t, NULL, other_thread, NULL) == 0, "pthread_create");
    pthread_join(t, &ok);
    CHECK(ok != NULL, "message in the other thread");
    EXPECT_MESSAGE("`model`");
}

/* A uniform [0, 1) sequence (LCG), the distribution of monitor.fer's baseline. */
static uint32_t lcg = 12345u;
static float uniform01(void) {
    lcg = lcg * 1664525u + 1013904223u;
    return (float)(lcg >> 8) / 16777216.0f;
}

/* monitor.fer: y = x over 2 features; baseline of 400 rows uniform on [0, 1) in 4 bins
 * (edges 0.25, 0.5, 0.75; 100 rows each), predicted class 200 / 200. In-distribution rows
 * stay stable; feature 0 shifted by one standard deviation (0.29) is flagged, feature 1
 * not; the snapshot restores into a monitor in caller storage. */
static void test_monitor(void) {
    Loaded l, plain;
    FerMonitor *m = NULL, *m2 = NULL;
    FerDrift d;
    FerLatency lat;
    size_t words = 0, features = 0, snap_len = 0, need = 0;
    uint64_t rows = 0;
    uint32_t *storage;
    uint8_t snap[4096];
    float x[2], scores[2];
    int label, r, pass;
    if (!load(&l, "monitor.fer", LOAD_COPY, SESSION_LIBRARY)) return;
    EXPECT_STATUS(fer_model_monitor_words(l.model, &words), FER_STATUS_OK);
    CHECK(words > 2 * 6, "monitor words %zu", words);
    EXPECT_STATUS(fer_monitor_new(l.model, &m), FER_STATUS_OK);
    EXPECT_STATUS(fer_monitor_set_clock_hz(m, 1000000u), FER_STATUS_OK);
    for (pass = 0; pass < 2; pass++) {
        EXPECT_STATUS(fer_monitor_reset(m), FER_STATUS_OK);
        for (r = 0; r < 2000; r++) {
            x[0] = uniform01() + (pass == 1 ? 0.29f : 0.0f);
            x[1] = uniform01();
            EXPECT_STATUS(fer_predict(l.session, x, 2, scores, 2, &label), FER_STATUS_OK);
            EXPECT_STATUS(fer_monitor_observe(m, x, 2, scores, 2), FER_STATUS_OK);
            EXPECT_STATUS(fer_monitor_observe_latency(m, 10u + (uint32_t)(r % 7)), FER_STATUS_OK);
        }
        EXPECT_STATUS(fer_monitor_feature(m, 0, &d), FER_STATUS_OK);
        if (pass == 0) {
            CHECK(!d.flagged && d.psi < 0.1 && d.level == FER_DRIFT_LEVEL_STABLE, "feature 0 psi %g", d.psi);
        } else {
            CHECK(d.flagged && d.psi > 0.25 && d.level == FER_DRIFT_LEVEL_SHIFTED && d.p_value < 1e-6,
                  "shifted feature 0 psi %g p %g", d.psi, d.p_value);
            CHECK(d.out_of_range > 400 && d.rows == 2000, "out of range %u rows %u", d.out_of_range,
                  d.rows);
        }
        EXPECT_STATUS(fer_monitor_feature(m, 1, &d), FER_STATUS_OK);
        CHECK(!d.flagged && d.psi < 0.1, "feature 1 psi %g (pass %d)", d.psi, pass);
        EXPECT_STATUS(fer_monitor_output_drift(m, &d), FER_STATUS_OK);
        CHECK(d.rows == 2000, "output rows %u", d.rows);
    }
    EXPECT_STATUS(fer_monitor_feature(m, 2, &d), FER_STATUS_NO_SUCH_INDEX);
    EXPECT_STATUS(fer_monitor_counts(m, &features, &rows), FER_STATUS_OK);
    CHECK(features == 2 && rows == 2000, "features %zu rows %llu", features, (unsigned long long)rows);
    EXPECT_STATUS(fer_monitor_latency(m, &lat), FER_STATUS_OK);
    CHECK(lat.count == 2000 && lat.max == 16 && lat.mean > 12.9 && lat.mean < 13.1 && lat.clock_hz == 1000000u,
          "latency count %u max %u mean %g", lat.count, lat.max, lat.mean);
    /* Snapshot: too small a buffer reports the size; then restore in caller storage. */
    EXPECT_STATUS(fer_monitor_snapshot(m, snap, 4, &snap_len), FER_STATUS_BUFFER_TOO_SMALL);
    CHECK(snap_len > 4 && snap_len <= sizeof snap, "snapshot needs %zu", snap_len);
    EXPECT_STATUS(fer_monitor_snapshot(m, snap, sizeof snap, &snap_len), FER_STATUS_OK);
    need = words + FER_MONITOR_STORAGE_OVERHEAD;
    storage = malloc((need + 1) * sizeof *storage);
    EXPECT_STATUS(fer_monitor_new_in(l.model, storage + 1, need - 1, &m2), FER_STATUS_BUFFER_TOO_SMALL);
    CHECK(m2 == NULL, "no monitor on failure");
    EXPECT_STATUS(fer_monitor_new_in(l.model, storage + 1, need, &m2), FER_STATUS_OK);
    EXPECT_STATUS(fer_monitor_restore(m2, snap, snap_len - 1), FER_STATUS_BAD_SNAPSHOT);
    EXPECT_STATUS(fer_monitor_restore(m2, snap, snap_len), FER_STATUS_OK);
    EXPECT_STATUS(fer_monitor_feature(m2, 0, &d), FER_STATUS_OK);
    CHECK(d.flagged && d.rows == 2000, "restored feature 0 psi %g", d.psi);
    EXPECT_STATUS(fer_monitor_set_window(m2, 100), FER_STATUS_OK);
    fer_monitor_free(m2);
    EXPECT_STATUS(fer_monitor_feature(m2, 0, &d), FER_STATUS_INVALID_ARGUMENT);
    free(storage);
    fer_monitor_free(m);
    fer_monitor_free(NULL);
    /* A model without a baseline. */
    if (load(&plain, "single.fer", LOAD_COPY, SESSION_LIBRARY)) {
        EXPECT_STATUS(fer_model_monitor_words(plain.model, &words), FER_STATUS_OK);
        CHECK(words == 0, "no baseline: %zu words", words);
        EXPECT_STATUS(fer_monitor_new(plain.model, &m), FER_STATUS_NO_BASELINE);
        unload(&plain);
    }
    unload(&l);
}

/* Verified loads (fer_model_load_verified / fer_model_load_static_verified) of
 * single_signed.fer, signed by trusted.pub at model_version 5 (c_api.rs signs it with
 * the runtime's signer): each refusal has its own status and leaves *out NULL. */
static void expect_refused(const uint8_t *file, size_t len, const uint8_t *keys, size_t n_keys,
                           uint64_t min_version, FerStatus expected, const char *what) {
    FerModel *m = (FerModel *)&m;
    FerModelStorage storage;
    Block b = block_at(len, 0);
    FerStatus st = fer_model_load_verified(file, len, keys, n_keys, min_version, &m);
    CHECK(st == expected && m == NULL, "%s: copy load gave %s, expected %s", what,
          fer_status_name(st), fer_status_name(expected));
    CHECK(fer_last_error_message()[0] != '\0', "%s: a message", what);
    memcpy(b.ptr, file, len);
    m = (FerModel *)&m;
    st = fer_model_load_static_verified(b.ptr, len, keys, n_keys, min_version, &storage, &m);
    CHECK(st == expected && m == NULL, "%s: in-place load gave %s, expected %s", what,
          fer_status_name(st), fer_status_name(expected));
    free(b.raw);
}

static void test_verified(void) {
    size_t len, unsigned_len, tampered_len, key_len, other_len;
    uint8_t *signed_file = read_file("single_signed.fer", &len);
    uint8_t *unsigned_file = read_file("single.fer", &unsigned_len);
    uint8_t *tampered = read_file("single_tampered.fer", &tampered_len);
    uint8_t *trusted = read_file("trusted.pub", &key_len);
    uint8_t *other = read_file("other.pub", &other_len);
    uint8_t both[64], key_id[8];
    uint64_t version = 0;
    float x[4] = {1, 1, 1, 1}, y[1] = {0};
    int32_t label = 0;
    FerModel *m = NULL;
    FerSession *s = NULL;
    FerModelStorage storage;
    Block b = block_at(len, 0);
    CHECK(key_len == 32 && other_len == 32 && tampered_len == len, "signing fixtures");
    memcpy(both, other, 32);
    memcpy(both + 32, trusted, 32);

    CHECK(FER_STATUS_UNSIGNED == 22 && FER_STATUS_UNKNOWN_KEY == 23 &&
              FER_STATUS_VERSION_TOO_OLD == 24 && FER_STATUS_BAD_SIGNATURE == 18,
          "signature status values");
    CHECK(strcmp(fer_status_name(FER_STATUS_VERSION_TOO_OLD), "FER_STATUS_VERSION_TOO_OLD") == 0,
          "status name");

    /* The right key (alone, or second of two: key rotation) loads and predicts. */
    EXPECT_STATUS(fer_model_load_verified(signed_file, len, trusted, 1, 0, &m), FER_STATUS_OK);
    if (m) {
        EXPECT_STATUS(fer_session_new(m, &s), FER_STATUS_OK);
        EXPECT_STATUS(fer_predict(s, x, 4, y, 1, &label), FER_STATUS_OK);
        CHECK(y[0] == 10.5f, "verified model predicts %g, expected 10.5", (double)y[0]);
        EXPECT_STATUS(fer_model_signature(m, key_id, &version), FER_STATUS_OK);
        CHECK(version == 5 && memcmp(key_id, trusted, 8) == 0, "signature: version %llu",
              (unsigned long long)version);
        fer_session_free(s);
        fer_model_free(m);
    }
    m = NULL;
    EXPECT_STATUS(fer_model_load_verified(signed_file, len, both, 2, 5, &m), FER_STATUS_OK);
    fer_model_free(m);
    memcpy(b.ptr, signed_file, len);
    m = NULL;
    EXPECT_STATUS(fer_model_load_static_verified(b.ptr, len, trusted, 1, 5, &storage, &m),
                  FER_STATUS_OK);
    CHECK(m == (FerModel *)&storage, "verified model in caller storage");
    fer_model_free(m);
    free(b.raw);

    /* An unsigned model still loads unverified, and says it is unsigned. */
    m = NULL;
    EXPECT_STATUS(fer_model_load(unsigned_file, unsigned_len, &m), FER_STATUS_OK);
    EXPECT_STATUS(fer_model_signature(m, key_id, &version), FER_STATUS_UNSIGNED);
    fer_model_free(m);

    expect_refused(signed_file, len, other, 1, 0, FER_STATUS_UNKNOWN_KEY, "wrong key");
    expect_refused(signed_file, len, NULL, 0, 0, FER_STATUS_UNKNOWN_KEY, "no key");
    expect_refused(tampered, len, trusted, 1, 0, FER_STATUS_BAD_SIGNATURE, "flipped byte");
    expect_refused(tampered, len, both, 2, 0, FER_STATUS_BAD_SIGNATURE, "flipped byte, 2 keys");
    expect_refused(unsigned_file, unsigned_len, trusted, 1, 0, FER_STATUS_UNSIGNED, "unsigned");
    expect_refused(signed_file, len, trusted, 1, 6, FER_STATUS_VERSION_TOO_OLD, "old version");
    EXPECT_MESSAGE("5");
    expect_refused(signed_file, len, NULL, 1, 0, FER_STATUS_NULL_ARGUMENT, "NULL keys");

    free(signed_file);
    free(unsigned_file);
    free(tampered);
    free(trusted);
    free(other);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s FIXTURES_DIR\n", argv[0]);
        return 2;
    }
    snprintf(fixtures, sizeof fixtures, "%s", argv[1]);
    read_csv("inputs.csv", inputs, ROWS, FEATURES);
    read_labels();

    test_version();
    test_parity("mlp_f32.fer", "expected_f32.csv", "expected_f32.hex", labels_f32);
    test_parity("mlp_int8.fer", "expected_int8.csv", "expected_int8.hex", labels_int8);
    test_raw_int8();
    test_info();
    test_golden_and_properties();
    test_streaming();
    test_null_arguments();
    test_sizes_and_lengths();
    test_bad_models();
    test_arenas_and_handles();
    test_threads();
    test_monitor();
    test_verified();

    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
