/*
 * emg_proto_tool: test driver that exposes the C codec on stdin/stdout so the Python tests
 * can cross-check it (and firmware authors can inspect captures).
 *
 *   emg_proto_tool decode   bytes on stdin  -> one line per valid frame, then a STATS line
 *   emg_proto_tool encode   frame lines     -> wire bytes on stdout (same line format)
 *   emg_proto_tool crc      bytes on stdin  -> CRC-32 in hex
 *   emg_proto_tool bench R  bytes on stdin  -> decode them R times: "frames= bytes= seconds=" (CPU time)
 *
 * Line format (integers in decimal, strings and sample bytes in lowercase hex):
 *   HELLO seq= pv= width= ch= rate= uv=<f32 bits, 8 hex> id= fw=
 *   HELLO_REQ seq= pv=          START seq= pv= spf= rate=        STOP seq=
 *   SAMPLES seq= first= n= data=<little-endian int16 bytes>
 *   ALERT seq= id= onset= offset= conf=<0..10000> sev= label=
 *   ACK seq= ref_type= ref_id=  NACK seq= ref_type= ref_id= reason=
 *   HEARTBEAT seq= up= state= next= rx=   ERROR seq= code= msg=   CONFIG seq= key= value=
 *   QEMG_SUMMARY seq= id= start= end= units= rule= model= amp= dur= poly= rate= conf=
 *   STATS frames= crc= cobs= length= version= unknown= malformed= oversize= dropped=
 * Uses stdio; the codec itself (emg_proto.c) does not.
 */
#define _POSIX_C_SOURCE 200809L /* strtok_r */
#include "emg_proto.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void hex(const uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++) printf("%02x", p[i]);
}

static void print_frame(const emg_frame_t *f) {
    switch (f->type) {
    case EMG_HELLO: {
        const emg_hello_t *h = &f->u.hello;
        printf("HELLO seq=%" PRIu32 " pv=%u width=%u ch=%u rate=%" PRIu32 " uv=%08" PRIx32 " id=", f->seq,
               h->protocol_version, h->sample_width, h->channels, h->sample_rate, h->uv_per_lsb_bits);
        hex((const uint8_t *)h->device_id, h->device_id_len);
        printf(" fw=");
        hex((const uint8_t *)h->firmware_version, h->firmware_version_len);
        break;
    }
    case EMG_HELLO_REQ: printf("HELLO_REQ seq=%" PRIu32 " pv=%u", f->seq, f->u.hello_req.protocol_version); break;
    case EMG_START:
        printf("START seq=%" PRIu32 " pv=%u spf=%u rate=%" PRIu32, f->seq, f->u.start.protocol_version,
               f->u.start.samples_per_frame, f->u.start.sample_rate);
        break;
    case EMG_STOP: printf("STOP seq=%" PRIu32, f->seq); break;
    case EMG_SAMPLES:
        printf("SAMPLES seq=%" PRIu32 " first=%" PRIu64 " n=%u data=", f->seq, f->u.samples.first_index,
               f->u.samples.n);
        hex(f->u.samples.le, 2u * f->u.samples.n);
        break;
    case EMG_ALERT: {
        const emg_alert_t *a = &f->u.alert;
        printf("ALERT seq=%" PRIu32 " id=%" PRIu32 " onset=%" PRIu64 " offset=%" PRIu64 " conf=%u sev=%u label=",
               f->seq, a->alert_id, a->onset, a->offset, a->confidence, a->severity);
        hex((const uint8_t *)a->label, a->label_len);
        break;
    }
    case EMG_ACK:
        printf("ACK seq=%" PRIu32 " ref_type=%u ref_id=%" PRIu32, f->seq, f->u.ack.ref_type, f->u.ack.ref_id);
        break;
    case EMG_NACK:
        printf("NACK seq=%" PRIu32 " ref_type=%u ref_id=%" PRIu32 " reason=%u", f->seq, f->u.ack.ref_type,
               f->u.ack.ref_id, f->u.ack.reason);
        break;
    case EMG_HEARTBEAT:
        printf("HEARTBEAT seq=%" PRIu32 " up=%" PRIu32 " state=%u next=%" PRIu64 " rx=%" PRIu32, f->seq,
               f->u.heartbeat.uptime_ms, f->u.heartbeat.state, f->u.heartbeat.next_index, f->u.heartbeat.rx_errors);
        break;
    case EMG_ERROR:
        printf("ERROR seq=%" PRIu32 " code=%u msg=", f->seq, f->u.error.code);
        hex((const uint8_t *)f->u.error.message, f->u.error.message_len);
        break;
    case EMG_CONFIG:
        printf("CONFIG seq=%" PRIu32 " key=%u value=%" PRId32, f->seq, f->u.config.key, f->u.config.value);
        break;
    case EMG_QEMG_SUMMARY: {
        const emg_qemg_summary_t *q = &f->u.qemg;
        printf("QEMG_SUMMARY seq=%" PRIu32 " id=%" PRIu32 " start=%" PRIu64 " end=%" PRIu64
               " units=%u rule=%u model=%u amp=%u dur=%u poly=%u rate=%u conf=%u",
               f->seq, q->stretch_id, q->start, q->end, q->n_units, q->rule_pattern, q->model_pattern,
               q->amplitude_uv, q->duration_tenth_ms, q->polyphasic_hundredth_pct, q->rate_hundredth_hz,
               q->model_confidence);
        break;
    }
    default: printf("UNKNOWN type=%u", f->type);
    }
    printf("\n");
}

static int do_decode(void) {
    static uint8_t buf[EMG_MAX_ENCODED];
    emg_decoder_t d;
    emg_frame_t f;
    int c;
    emg_decoder_init(&d, buf, sizeof buf);
    while ((c = getchar()) != EOF)
        if (emg_decoder_feed(&d, (uint8_t)c, &f)) print_frame(&f);
    printf("STATS frames=%" PRIu32 " crc=%" PRIu32 " cobs=%" PRIu32 " length=%" PRIu32 " version=%" PRIu32
           " unknown=%" PRIu32 " malformed=%" PRIu32 " oversize=%" PRIu32 " dropped=%" PRIu64 "\n",
           d.stats.frames, d.stats.crc_errors, d.stats.cobs_errors, d.stats.length_errors, d.stats.version_errors,
           d.stats.unknown_type, d.stats.malformed, d.stats.oversize, d.stats.dropped_bytes);
    return 0;
}

/* ---- line parsing for `encode` ---- */

#define MAX_FIELDS 16
static char *keys[MAX_FIELDS], *vals[MAX_FIELDS];
static int nfields;

static const char *field(const char *key) {
    for (int i = 0; i < nfields; i++)
        if (strcmp(keys[i], key) == 0) return vals[i];
    fprintf(stderr, "missing field %s\n", key);
    exit(2);
}

static uint64_t num(const char *key) { return strtoull(field(key), NULL, 10); }

/* Hex string -> bytes in place (the text is at least twice as long as the bytes). */
static size_t unhex(const char *key, uint8_t **out) {
    char *s = (char *)field(key);
    size_t n = strlen(s) / 2;
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        sscanf(s + 2 * i, "%2x", &v);
        ((uint8_t *)s)[i] = (uint8_t)v;
    }
    *out = (uint8_t *)s;
    return n;
}

static int do_encode(void) {
    static char line[8192];
    static uint8_t out[EMG_MAX_WIRE];
    int lineno = 0;
    while (fgets(line, sizeof line, stdin)) {
        emg_frame_t f;
        uint8_t *p;
        char *save = NULL, *tok, *name;
        size_t len;
        lineno++;
        memset(&f, 0, sizeof f);
        name = strtok_r(line, " \r\n", &save);
        if (!name) continue;
        nfields = 0;
        while ((tok = strtok_r(NULL, " \r\n", &save)) && nfields < MAX_FIELDS) {
            char *eq = strchr(tok, '=');
            if (!eq) return 2;
            *eq = 0;
            keys[nfields] = tok;
            vals[nfields++] = eq + 1;
        }
        f.seq = (uint32_t)num("seq");
        if (!strcmp(name, "HELLO")) {
            f.type = EMG_HELLO;
            f.u.hello.protocol_version = (uint8_t)num("pv");
            f.u.hello.sample_width = (uint8_t)num("width");
            f.u.hello.channels = (uint8_t)num("ch");
            f.u.hello.sample_rate = (uint32_t)num("rate");
            f.u.hello.uv_per_lsb_bits = (uint32_t)strtoul(field("uv"), NULL, 16);
            f.u.hello.device_id_len = (uint8_t)unhex("id", &p);
            f.u.hello.device_id = (const char *)p;
            f.u.hello.firmware_version_len = (uint8_t)unhex("fw", &p);
            f.u.hello.firmware_version = (const char *)p;
        } else if (!strcmp(name, "HELLO_REQ")) {
            f.type = EMG_HELLO_REQ;
            f.u.hello_req.protocol_version = (uint8_t)num("pv");
        } else if (!strcmp(name, "START")) {
            f.type = EMG_START;
            f.u.start.protocol_version = (uint8_t)num("pv");
            f.u.start.samples_per_frame = (uint16_t)num("spf");
            f.u.start.sample_rate = (uint32_t)num("rate");
        } else if (!strcmp(name, "STOP")) {
            f.type = EMG_STOP;
        } else if (!strcmp(name, "SAMPLES")) {
            f.type = EMG_SAMPLES;
            f.u.samples.first_index = num("first");
            f.u.samples.n = (uint16_t)(unhex("data", &p) / 2);
            f.u.samples.le = p;
        } else if (!strcmp(name, "ALERT")) {
            f.type = EMG_ALERT;
            f.u.alert.alert_id = (uint32_t)num("id");
            f.u.alert.onset = num("onset");
            f.u.alert.offset = num("offset");
            f.u.alert.confidence = (uint16_t)num("conf");
            f.u.alert.severity = (uint8_t)num("sev");
            f.u.alert.label_len = (uint8_t)unhex("label", &p);
            f.u.alert.label = (const char *)p;
        } else if (!strcmp(name, "ACK") || !strcmp(name, "NACK")) {
            f.type = name[0] == 'A' ? EMG_ACK : EMG_NACK;
            f.u.ack.ref_type = (uint8_t)num("ref_type");
            f.u.ack.ref_id = (uint32_t)num("ref_id");
            if (f.type == EMG_NACK) f.u.ack.reason = (uint16_t)num("reason");
        } else if (!strcmp(name, "HEARTBEAT")) {
            f.type = EMG_HEARTBEAT;
            f.u.heartbeat.uptime_ms = (uint32_t)num("up");
            f.u.heartbeat.state = (uint8_t)num("state");
            f.u.heartbeat.next_index = num("next");
            f.u.heartbeat.rx_errors = (uint32_t)num("rx");
        } else if (!strcmp(name, "ERROR")) {
            f.type = EMG_ERROR;
            f.u.error.code = (uint16_t)num("code");
            f.u.error.message_len = (uint8_t)unhex("msg", &p);
            f.u.error.message = (const char *)p;
        } else if (!strcmp(name, "CONFIG")) {
            f.type = EMG_CONFIG;
            f.u.config.key = (uint16_t)num("key");
            f.u.config.value = (int32_t)strtol(field("value"), NULL, 10);
        } else if (!strcmp(name, "QEMG_SUMMARY")) {
            f.type = EMG_QEMG_SUMMARY;
            f.u.qemg.stretch_id = (uint32_t)num("id");
            f.u.qemg.start = num("start");
            f.u.qemg.end = num("end");
            f.u.qemg.n_units = (uint8_t)num("units");
            f.u.qemg.rule_pattern = (uint8_t)num("rule");
            f.u.qemg.model_pattern = (uint8_t)num("model");
            f.u.qemg.amplitude_uv = (uint16_t)num("amp");
            f.u.qemg.duration_tenth_ms = (uint16_t)num("dur");
            f.u.qemg.polyphasic_hundredth_pct = (uint16_t)num("poly");
            f.u.qemg.rate_hundredth_hz = (uint16_t)num("rate");
            f.u.qemg.model_confidence = (uint16_t)num("conf");
        } else {
            fprintf(stderr, "line %d: unknown frame %s\n", lineno, name);
            return 2;
        }
        len = emg_encode_frame(&f, out, sizeof out);
        if (!len) {
            fprintf(stderr, "line %d: %s cannot be encoded (field out of range)\n", lineno, name);
            return 1;
        }
        fwrite(out, 1, len, stdout);
    }
    return 0;
}

static int do_crc(void) {
    uint32_t crc = 0;
    int c;
    while ((c = getchar()) != EOF) {
        uint8_t b = (uint8_t)c;
        crc = emg_crc32_update(crc, &b, 1);
    }
    printf("%08" PRIx32 "\n", crc);
    return 0;
}

/* Decoder throughput: the whole input is held in memory and decoded `reps` times. */
static int do_bench(long reps) {
    static uint8_t buf[EMG_MAX_ENCODED];
    size_t cap = 1u << 20, n = 0, r;
    uint8_t *data = malloc(cap); /* the tool may allocate; the codec never does */
    uint64_t frames = 0;
    clock_t t0;
    double secs;
    if (!data) return 1;
    while ((r = fread(data + n, 1, cap - n, stdin)) > 0) {
        n += r;
        if (n == cap) {
            uint8_t *bigger = realloc(data, cap *= 2);
            if (!bigger) return 1;
            data = bigger;
        }
    }
    t0 = clock();
    for (long k = 0; k < reps; k++) {
        emg_decoder_t d;
        emg_frame_t f;
        emg_decoder_init(&d, buf, sizeof buf);
        for (size_t i = 0; i < n; i++) frames += (uint64_t)emg_decoder_feed(&d, data[i], &f);
    }
    secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
    printf("frames=%" PRIu64 " bytes=%" PRIu64 " seconds=%.6f\n", frames, (uint64_t)n * (uint64_t)reps, secs);
    free(data);
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 2 && !strcmp(argv[1], "decode")) return do_decode();
    if (argc == 2 && !strcmp(argv[1], "encode")) return do_encode();
    if (argc == 2 && !strcmp(argv[1], "crc")) return do_crc();
    if (argc == 3 && !strcmp(argv[1], "bench")) return do_bench(atol(argv[2]));
    fprintf(stderr, "usage: %s decode|encode|crc < input\n", argv[0]);
    return 2;
}
