/*
 * predict — load a ferrite model and classify one row of numbers through the C ABI.
 *
 *   ./predict MODEL.fer 0.12 -0.5 3.4 ...     (numbers as separate arguments)
 *   ./predict MODEL.fer 0.12,-0.5,3.4,...     (or comma-separated, e.g. a CSV line)
 *
 * Prints every score with its class label and the predicted label. Any error (missing
 * file, corrupted model, wrong number of features, NaN…) is reported with the library's
 * status and message, and the exit code is 1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ferrite.h"

static int fail(const char *what, FerStatus status) {
    fprintf(stderr, "predict: %s: %s (%s)\n", what, fer_last_error_message(),
            fer_status_name(status));
    return 1;
}

static unsigned char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    unsigned char *buf = NULL;
    long n;
    if (!f) return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
        buf = malloc((size_t)n + 1);
        if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
            free(buf);
            buf = NULL;
        }
        *len = (size_t)n;
    }
    fclose(f);
    return buf;
}

int main(int argc, char **argv) {
    FerModel *model = NULL;
    FerSession *session = NULL;
    FerTensorInfo in, out;
    FerStatus st;
    unsigned char *bytes;
    float *features = NULL, *scores = NULL;
    size_t len = 0, n = 0, i, num_labels = 0;
    int32_t label = -1;
    char name[128], text[128];
    int a, rc = 1;

    if (argc < 3) {
        fprintf(stderr, "usage: %s MODEL.fer X1 X2 ... | X1,X2,...\n(ferrite %s)\n", argv[0],
                fer_version());
        return 2;
    }
    if (!(bytes = read_file(argv[1], &len))) {
        perror(argv[1]);
        return 1;
    }
    st = fer_model_load(bytes, len, &model); /* copies: the file buffer can go */
    free(bytes);
    if (st != FER_STATUS_OK) return fail(argv[1], st);

    if ((st = fer_model_input_info(model, 0, &in)) != FER_STATUS_OK ||
        (st = fer_model_output_info(model, 0, &out)) != FER_STATUS_OK) {
        rc = fail("model info", st);
        goto done;
    }
    /* Parse the row: every argument may hold several comma-separated numbers. */
    features = calloc((size_t)argc * 64, sizeof *features);
    scores = calloc(out.elements ? out.elements : 1, sizeof *scores);
    if (!features || !scores) goto done;
    for (a = 2; a < argc; a++) {
        char *p = argv[a], *end;
        while (*p && n < (size_t)argc * 64) {
            features[n++] = strtof(p, &end);
            if (end == p) {
                fprintf(stderr, "predict: not a number: %s\n", p);
                goto done;
            }
            p = end;
            while (*p == ',' || *p == ' ') p++;
        }
    }

    if ((st = fer_session_new(model, &session)) != FER_STATUS_OK) {
        rc = fail("session", st);
        goto done;
    }
    /* The library checks n against the model's input (FER_STATUS_WRONG_LENGTH). */
    st = fer_predict(session, features, n, scores, out.elements, &label);
    if (st != FER_STATUS_OK) {
        rc = fail("predict", st);
        goto done;
    }

    if (fer_model_name(model, name, sizeof name, NULL) != FER_STATUS_OK) strcpy(name, "?");
    printf("model: %s (%zu features -> %zu scores)\n", name, in.elements, out.elements);
    fer_model_num_labels(model, &num_labels);
    for (i = 0; i < out.elements; i++) {
        if (i >= num_labels || fer_model_label(model, i, text, sizeof text, NULL) != FER_STATUS_OK)
            snprintf(text, sizeof text, "%zu", i);
        printf("  %-12s %.6f\n", text, (double)scores[i]);
    }
    if (label >= 0) {
        if ((size_t)label >= num_labels ||
            fer_model_label(model, (size_t)label, text, sizeof text, NULL) != FER_STATUS_OK)
            snprintf(text, sizeof text, "%d", (int)label);
        printf("label: %d (%s)\n", (int)label, text);
    } else {
        printf("value: %.6f\n", (double)scores[0]);
    }
    rc = 0;

done:
    fer_session_free(session);
    fer_model_free(model);
    free(features);
    free(scores);
    return rc;
}
