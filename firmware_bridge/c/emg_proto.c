/*
 * emg_proto.c: C99 codec for the EMG bridge wire protocol v1 (see emg_proto.h, PROTOCOL.md).
 * No dynamic allocation, no global mutable state, no libc beyond memcpy.
 */
#include "emg_proto.h"

#include <string.h>

/* ------------------------------------------------------------------ CRC-32 */

/* Table-free bitwise CRC-32 (ISO-HDLC): small code, ~8 shifts per byte. A firmware that
 * needs speed can swap in a 256-entry table or the MCU's CRC unit; the result is the same. */
uint32_t emg_crc32_update(uint32_t crc, const uint8_t *data, size_t n) {
    crc = ~crc;
    for (size_t i = 0; i < n; i++) {
        crc ^= data[i];
        for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

uint32_t emg_crc32(const uint8_t *data, size_t n) { return emg_crc32_update(0u, data, n); }

uint32_t emg_f32_bits(float f) {
    uint32_t b;
    memcpy(&b, &f, sizeof b);
    return b;
}

float emg_bits_f32(uint32_t bits) {
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

int16_t emg_sample(const emg_samples_t *s, size_t i) {
    uint16_t v = (uint16_t)(s->le[2 * i] | ((uint16_t)s->le[2 * i + 1] << 8));
    return v >= 0x8000u ? (int16_t)((int32_t)v - 65536) : (int16_t)v;
}

/* ------------------------------------------------------------------ COBS */

/* Streaming COBS encoder: bytes go straight into `out` with a placeholder for the pending
 * code byte, so no intermediate frame buffer is needed. */
typedef struct {
    uint8_t *out;
    size_t cap, pos, code_pos;
    uint8_t code;
    int after_full_block; /* the last action closed a 0xFF block */
    int err;
    uint32_t crc;         /* running CRC-32 of the bytes put with put_u8() */
} cobs_enc_t;

static void ce_init(cobs_enc_t *e, uint8_t *out, size_t cap) {
    e->out = out;
    e->cap = cap;
    e->code_pos = 0;
    e->pos = 1;
    e->code = 1;
    e->after_full_block = 0;
    e->err = cap < 2;
    e->crc = 0u;
}

static void ce_put(cobs_enc_t *e, uint8_t b) {
    if (e->err) return;
    if (e->pos >= e->cap) { e->err = 1; return; }
    e->after_full_block = 0;
    if (b == 0) {
        e->out[e->code_pos] = e->code;
        e->code_pos = e->pos++;
        e->code = 1;
        return;
    }
    e->out[e->pos++] = b;
    if (++e->code == 0xFF) {
        e->out[e->code_pos] = 0xFF;
        e->code_pos = e->pos++;
        e->code = 1;
        e->after_full_block = 1;
    }
}

/* Closes the block and appends the delimiter; returns the length or 0. */
static size_t ce_finish(cobs_enc_t *e) {
    if (e->err) return 0;
    if (e->after_full_block) {
        e->pos--; /* canonical form: no code byte after a final 254-byte run */
    } else {
        e->out[e->code_pos] = e->code;
    }
    if (e->pos >= e->cap) return 0;
    e->out[e->pos++] = 0;
    return e->pos;
}

size_t emg_cobs_encode(const uint8_t *in, size_t n, uint8_t *out, size_t out_cap) {
    cobs_enc_t e;
    ce_init(&e, out, out_cap + 1u); /* room for ce_finish's delimiter, removed below */
    for (size_t i = 0; i < n; i++) ce_put(&e, in[i]);
    size_t len = ce_finish(&e);
    return len ? len - 1u : 0u;
}

long emg_cobs_decode(const uint8_t *in, size_t n, uint8_t *out, size_t out_cap) {
    size_t i = 0, o = 0;
    if (n == 0) return -1;
    while (i < n) {
        uint8_t code = in[i];
        if (code == 0 || (size_t)code > n - i) return -1;
        for (size_t k = 1; k < code; k++) {
            uint8_t b = in[i + k];
            if (b == 0 || o >= out_cap) return -1;
            out[o++] = b; /* o <= i + k - 1, so in-place decoding is safe */
        }
        i += code;
        if (code != 0xFF && i < n) {
            if (o >= out_cap) return -1;
            out[o++] = 0;
        }
    }
    return (long)o;
}

/* ------------------------------------------------------------------ validation */

static int utf8_valid(const uint8_t *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        size_t need;
        uint8_t lo = 0x80, hi = 0xBF;
        if (c < 0x80) { i++; continue; }
        if (c >= 0xC2 && c <= 0xDF) need = 1;
        else if (c == 0xE0) { need = 2; lo = 0xA0; }
        else if (c == 0xED) { need = 2; hi = 0x9F; }
        else if (c >= 0xE1 && c <= 0xEF) need = 2;
        else if (c == 0xF0) { need = 3; lo = 0x90; }
        else if (c >= 0xF1 && c <= 0xF3) need = 3;
        else if (c == 0xF4) { need = 3; hi = 0x8F; }
        else return 0;
        if (n - i <= need) return 0;
        if (s[i + 1] < lo || s[i + 1] > hi) return 0;
        for (size_t k = 2; k <= need; k++)
            if (s[i + k] < 0x80 || s[i + k] > 0xBF) return 0;
        i += need + 1;
    }
    return 1;
}

static int f32_positive_finite(uint32_t bits) {
    return ((bits >> 23) & 0xFFu) != 0xFFu && (bits & 0x80000000u) == 0 && (bits & 0x7FFFFFFFu) != 0;
}

static int valid_hello(const emg_hello_t *h) {
    return h->device_id_len <= EMG_MAX_ID_BYTES && h->firmware_version_len <= EMG_MAX_ID_BYTES &&
           utf8_valid((const uint8_t *)h->device_id, h->device_id_len) &&
           utf8_valid((const uint8_t *)h->firmware_version, h->firmware_version_len) &&
           h->sample_rate >= 1 && h->sample_width >= 1 && h->sample_width <= 32 && h->channels >= 1 &&
           h->protocol_version >= 1 && f32_positive_finite(h->uv_per_lsb_bits);
}

static int valid_start(const emg_start_t *s) {
    return s->protocol_version >= 1 && s->samples_per_frame <= EMG_MAX_SAMPLES;
}

static int valid_alert(const emg_alert_t *a) {
    return a->label_len <= EMG_MAX_LABEL_BYTES && utf8_valid((const uint8_t *)a->label, a->label_len) &&
           a->confidence <= 10000u && a->offset >= a->onset;
}

static int valid_qemg(const emg_qemg_summary_t *q) {
    return q->end >= q->start && q->polyphasic_hundredth_pct <= 10000u && q->model_confidence <= 10000u;
}

static int valid_error(const emg_error_t *e) {
    return e->message_len <= EMG_MAX_MESSAGE_BYTES && utf8_valid((const uint8_t *)e->message, e->message_len);
}

/* ------------------------------------------------------------------ encoders */

static void put_u8(cobs_enc_t *e, uint8_t v) {
    e->crc = emg_crc32_update(e->crc, &v, 1);
    ce_put(e, v);
}

static void put_bytes(cobs_enc_t *e, const uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++) put_u8(e, p[i]);
}

static void put_u16(cobs_enc_t *e, uint16_t v) {
    put_u8(e, (uint8_t)v);
    put_u8(e, (uint8_t)(v >> 8));
}

static void put_u32(cobs_enc_t *e, uint32_t v) {
    for (int k = 0; k < 4; k++) put_u8(e, (uint8_t)(v >> (8 * k)));
}

static void put_u64(cobs_enc_t *e, uint64_t v) {
    for (int k = 0; k < 8; k++) put_u8(e, (uint8_t)(v >> (8 * k)));
}

static void put_zeros(cobs_enc_t *e, size_t n) {
    for (size_t i = 0; i < n; i++) put_u8(e, 0);
}

static void begin(cobs_enc_t *e, uint8_t *out, size_t cap, uint8_t type, uint32_t seq, size_t plen) {
    ce_init(e, out, cap);
    if (plen > EMG_MAX_PAYLOAD) e->err = 1;
    put_u8(e, EMG_PROTOCOL_VERSION);
    put_u8(e, type);
    put_u8(e, 0); /* flags */
    put_u8(e, 0); /* reserved */
    put_u32(e, seq);
    put_u16(e, (uint16_t)plen);
}

static size_t end(cobs_enc_t *e) {
    uint32_t crc = e->crc;
    for (int k = 0; k < 4; k++) ce_put(e, (uint8_t)(crc >> (8 * k)));
    return ce_finish(e);
}

size_t emg_encode_raw(uint8_t type, uint32_t seq, const uint8_t *payload, uint16_t payload_len,
                      uint8_t *out, size_t out_cap) {
    cobs_enc_t e;
    begin(&e, out, out_cap, type, seq, payload_len);
    put_bytes(&e, payload, payload_len);
    return end(&e);
}

size_t emg_encode_hello(uint32_t seq, const emg_hello_t *h, uint8_t *out, size_t out_cap) {
    cobs_enc_t e;
    if (!valid_hello(h)) return 0;
    begin(&e, out, out_cap, EMG_HELLO, seq, 14u + h->device_id_len + h->firmware_version_len);
    put_u8(&e, h->protocol_version);
    put_u8(&e, h->sample_width);
    put_u8(&e, h->channels);
    put_zeros(&e, 1);
    put_u32(&e, h->sample_rate);
    put_u32(&e, h->uv_per_lsb_bits);
    put_u8(&e, h->device_id_len);
    put_bytes(&e, (const uint8_t *)h->device_id, h->device_id_len);
    put_u8(&e, h->firmware_version_len);
    put_bytes(&e, (const uint8_t *)h->firmware_version, h->firmware_version_len);
    return end(&e);
}

size_t emg_encode_hello_req(uint32_t seq, uint8_t protocol_version, uint8_t *out, size_t out_cap) {
    cobs_enc_t e;
    if (protocol_version < 1) return 0;
    begin(&e, out, out_cap, EMG_HELLO_REQ, seq, 4);
    put_u8(&e, protocol_version);
    put_zeros(&e, 3);
    return end(&e);
}

size_t emg_encode_start(uint32_t seq, const emg_start_t *s, uint8_t *out, size_t out_cap) {
    cobs_enc_t e;
    if (!valid_start(s)) return 0;
    begin(&e, out, out_cap, EMG_START, seq, 8);
    put_u8(&e, s->protocol_version);
    put_zeros(&e, 1);
    put_u16(&e, s->samples_per_frame);
    put_u32(&e, s->sample_rate);
    return end(&e);
}

size_t emg_encode_stop(uint32_t seq, uint8_t *out, size_t out_cap) {
    cobs_enc_t e;
    begin(&e, out, out_cap, EMG_STOP, seq, 0);
    return end(&e);
}

size_t emg_encode_samples(uint32_t seq, uint64_t first_index, const int16_t *samples, size_t n,
                          uint8_t *out, size_t out_cap) {
    cobs_enc_t e;
    if (n < 1 || n > EMG_MAX_SAMPLES) return 0;
    begin(&e, out, out_cap, EMG_SAMPLES, seq, 8u + 2u * n);
    put_u64(&e, first_index);
    for (size_t i = 0; i < n; i++) put_u16(&e, (uint16_t)samples[i]);
    return end(&e);
}

static size_t encode_samples_le(uint32_t seq, const emg_samples_t *s, uint8_t *out, size_t out_cap) {
    cobs_enc_t e;
    if (s->n < 1 || s->n > EMG_MAX_SAMPLES) return 0;
    begin(&e, out, out_cap, EMG_SAMPLES, seq, 8u + 2u * s->n);
    put_u64(&e, s->first_index);
    put_bytes(&e, s->le, 2u * s->n);
    return end(&e);
}

size_t emg_encode_alert(uint32_t seq, const emg_alert_t *a, uint8_t *out, size_t out_cap) {
    cobs_enc_t e;
    if (!valid_alert(a)) return 0;
    begin(&e, out, out_cap, EMG_ALERT, seq, 24u + a->label_len);
    put_u32(&e, a->alert_id);
    put_u64(&e, a->onset);
    put_u64(&e, a->offset);
    put_u16(&e, a->confidence);
    put_u8(&e, a->severity);
    put_u8(&e, a->label_len);
    put_bytes(&e, (const uint8_t *)a->label, a->label_len);
    return end(&e);
}

static size_t encode_acknack(uint8_t type, uint32_t seq, uint8_t ref_type, uint32_t ref_id, uint16_t reason,
                             uint8_t *out, size_t out_cap) {
    cobs_enc_t e;
    begin(&e, out, out_cap, type, seq, 8);
    put_u8(&e, ref_type);
    put_zeros(&e, 1);
    put_u16(&e, reason);
    put_u32(&e, ref_id);
    return end(&e);
}

size_t emg_encode_ack(uint32_t seq, uint8_t ref_type, uint32_t ref_id, uint8_t *out, size_t out_cap) {
    return encode_acknack(EMG_ACK, seq, ref_type, ref_id, 0, out, out_cap);
}

size_t emg_encode_nack(uint32_t seq, uint8_t ref_type, uint32_t ref_id, uint16_t reason, uint8_t *out,
                       size_t out_cap) {
    return encode_acknack(EMG_NACK, seq, ref_type, ref_id, reason, out, out_cap);
}

size_t emg_encode_heartbeat(uint32_t seq, const emg_heartbeat_t *hb, uint8_t *out, size_t out_cap) {
    cobs_enc_t e;
    begin(&e, out, out_cap, EMG_HEARTBEAT, seq, 20);
    put_u32(&e, hb->uptime_ms);
    put_u8(&e, hb->state);
    put_zeros(&e, 3);
    put_u64(&e, hb->next_index);
    put_u32(&e, hb->rx_errors);
    return end(&e);
}

size_t emg_encode_error(uint32_t seq, const emg_error_t *er, uint8_t *out, size_t out_cap) {
    cobs_enc_t e;
    if (!valid_error(er)) return 0;
    begin(&e, out, out_cap, EMG_ERROR, seq, 4u + er->message_len);
    put_u16(&e, er->code);
    put_u8(&e, er->message_len);
    put_zeros(&e, 1);
    put_bytes(&e, (const uint8_t *)er->message, er->message_len);
    return end(&e);
}

size_t emg_encode_config(uint32_t seq, const emg_config_t *c, uint8_t *out, size_t out_cap) {
    cobs_enc_t e;
    begin(&e, out, out_cap, EMG_CONFIG, seq, 8);
    put_u16(&e, c->key);
    put_zeros(&e, 2);
    put_u32(&e, (uint32_t)c->value);
    return end(&e);
}

size_t emg_encode_qemg_summary(uint32_t seq, const emg_qemg_summary_t *q, uint8_t *out, size_t out_cap) {
    cobs_enc_t e;
    if (!valid_qemg(q)) return 0;
    begin(&e, out, out_cap, EMG_QEMG_SUMMARY, seq, EMG_QEMG_SUMMARY_SIZE);
    put_u32(&e, q->stretch_id);
    put_u64(&e, q->start);
    put_u64(&e, q->end);
    put_u8(&e, q->n_units);
    put_u8(&e, q->rule_pattern);
    put_u8(&e, q->model_pattern);
    put_zeros(&e, 1);
    put_u16(&e, q->amplitude_uv);
    put_u16(&e, q->duration_tenth_ms);
    put_u16(&e, q->polyphasic_hundredth_pct);
    put_u16(&e, q->rate_hundredth_hz);
    put_u16(&e, q->model_confidence);
    return end(&e);
}

size_t emg_encode_frame(const emg_frame_t *f, uint8_t *out, size_t out_cap) {
    switch (f->type) {
    case EMG_HELLO: return emg_encode_hello(f->seq, &f->u.hello, out, out_cap);
    case EMG_HELLO_REQ: return emg_encode_hello_req(f->seq, f->u.hello_req.protocol_version, out, out_cap);
    case EMG_START: return emg_encode_start(f->seq, &f->u.start, out, out_cap);
    case EMG_STOP: return emg_encode_stop(f->seq, out, out_cap);
    case EMG_SAMPLES: return encode_samples_le(f->seq, &f->u.samples, out, out_cap);
    case EMG_ALERT: return emg_encode_alert(f->seq, &f->u.alert, out, out_cap);
    case EMG_ACK: return emg_encode_ack(f->seq, f->u.ack.ref_type, f->u.ack.ref_id, out, out_cap);
    case EMG_NACK:
        return emg_encode_nack(f->seq, f->u.ack.ref_type, f->u.ack.ref_id, f->u.ack.reason, out, out_cap);
    case EMG_HEARTBEAT: return emg_encode_heartbeat(f->seq, &f->u.heartbeat, out, out_cap);
    case EMG_ERROR: return emg_encode_error(f->seq, &f->u.error, out, out_cap);
    case EMG_CONFIG: return emg_encode_config(f->seq, &f->u.config, out, out_cap);
    case EMG_QEMG_SUMMARY: return emg_encode_qemg_summary(f->seq, &f->u.qemg, out, out_cap);
    default: return 0;
    }
}

/* ------------------------------------------------------------------ decoder */

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | ((uint16_t)p[1] << 8)); }

static uint32_t rd32(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static uint64_t rd64(const uint8_t *p) { return (uint64_t)rd32(p) | ((uint64_t)rd32(p + 4) << 32); }

/* Parses and validates the payload of f->type; returns 1 if well-formed. */
static int parse_payload(emg_frame_t *f) {
    const uint8_t *p = f->payload;
    size_t n = f->payload_len;
    switch (f->type) {
    case EMG_HELLO: {
        emg_hello_t *h = &f->u.hello;
        size_t end_id, end_fw;
        if (n < 13) return 0;
        h->protocol_version = p[0];
        h->sample_width = p[1];
        h->channels = p[2];
        h->sample_rate = rd32(p + 4);
        h->uv_per_lsb_bits = rd32(p + 8);
        h->device_id_len = p[12];
        h->device_id = (const char *)(p + 13);
        end_id = 13u + h->device_id_len;
        if (end_id + 1u > n) return 0;
        h->firmware_version_len = p[end_id];
        h->firmware_version = (const char *)(p + end_id + 1);
        end_fw = end_id + 1u + h->firmware_version_len;
        if (end_fw > n) return 0; /* bytes after end_fw: fields of later versions, ignored */
        return valid_hello(h);
    }
    case EMG_HELLO_REQ:
        if (n != 4) return 0;
        f->u.hello_req.protocol_version = p[0];
        return p[0] >= 1;
    case EMG_START:
        if (n != 8) return 0;
        f->u.start.protocol_version = p[0];
        f->u.start.samples_per_frame = rd16(p + 2);
        f->u.start.sample_rate = rd32(p + 4);
        return valid_start(&f->u.start);
    case EMG_STOP:
        return n == 0;
    case EMG_SAMPLES:
        if (n < 10 || (n & 1u)) return 0;
        f->u.samples.first_index = rd64(p);
        f->u.samples.n = (uint16_t)((n - 8u) / 2u);
        f->u.samples.le = p + 8;
        return 1;
    case EMG_ALERT: {
        emg_alert_t *a = &f->u.alert;
        if (n < 24) return 0;
        a->alert_id = rd32(p);
        a->onset = rd64(p + 4);
        a->offset = rd64(p + 12);
        a->confidence = rd16(p + 20);
        a->severity = p[22];
        a->label_len = p[23];
        a->label = (const char *)(p + 24);
        if (n != 24u + a->label_len) return 0;
        return valid_alert(a);
    }
    case EMG_ACK:
    case EMG_NACK:
        if (n != 8) return 0;
        f->u.ack.ref_type = p[0];
        f->u.ack.reason = rd16(p + 2);
        f->u.ack.ref_id = rd32(p + 4);
        if (f->type == EMG_ACK) f->u.ack.reason = 0;
        return 1;
    case EMG_HEARTBEAT:
        if (n != 20) return 0;
        f->u.heartbeat.uptime_ms = rd32(p);
        f->u.heartbeat.state = p[4];
        f->u.heartbeat.next_index = rd64(p + 8);
        f->u.heartbeat.rx_errors = rd32(p + 16);
        return 1;
    case EMG_ERROR:
        if (n < 4) return 0;
        f->u.error.code = rd16(p);
        f->u.error.message_len = p[2];
        f->u.error.message = (const char *)(p + 4);
        if (n != 4u + f->u.error.message_len) return 0;
        return valid_error(&f->u.error);
    case EMG_CONFIG:
        if (n != 8) return 0;
        f->u.config.key = rd16(p);
        f->u.config.value = (int32_t)rd32(p + 4); /* two's complement on every C99 target we know */
        return 1;
    case EMG_QEMG_SUMMARY: {
        emg_qemg_summary_t *q = &f->u.qemg;
        if (n != EMG_QEMG_SUMMARY_SIZE) return 0;
        q->stretch_id = rd32(p);
        q->start = rd64(p + 4);
        q->end = rd64(p + 12);
        q->n_units = p[20];
        q->rule_pattern = p[21];
        q->model_pattern = p[22];
        q->amplitude_uv = rd16(p + 24);
        q->duration_tenth_ms = rd16(p + 26);
        q->polyphasic_hundredth_pct = rd16(p + 28);
        q->rate_hundredth_hz = rd16(p + 30);
        q->model_confidence = rd16(p + 32);
        return valid_qemg(q);
    }
    default:
        return 0;
    }
}

void emg_decoder_init(emg_decoder_t *d, uint8_t *buf, size_t cap) {
    memset(d, 0, sizeof *d);
    d->buf = buf;
    d->cap = cap;
}

void emg_decoder_reset(emg_decoder_t *d) {
    d->len = 0;
    d->skipping = 0;
}

/* Checks one complete run (between delimiters) in d->buf; 1 if it is a valid frame. */
static int finish_frame(emg_decoder_t *d, emg_frame_t *f) {
    size_t run = d->len;
    long n = emg_cobs_decode(d->buf, run, d->buf, d->cap); /* in place */
    const uint8_t *b = d->buf;
    d->len = 0;
    if (n < 0) {
        d->stats.cobs_errors++;
    } else if ((size_t)n < EMG_HEADER_SIZE + EMG_CRC_SIZE) {
        d->stats.length_errors++;
    } else if (emg_crc32(b, (size_t)n - EMG_CRC_SIZE) != rd32(b + n - EMG_CRC_SIZE)) {
        d->stats.crc_errors++;
    } else if (rd16(b + 8) != (size_t)n - EMG_HEADER_SIZE - EMG_CRC_SIZE || rd16(b + 8) > EMG_MAX_PAYLOAD) {
        d->stats.length_errors++;
    } else if (b[1] < EMG_HELLO || b[1] > EMG_QEMG_SUMMARY) {
        d->stats.unknown_type++;
    } else if (b[0] != EMG_PROTOCOL_VERSION && b[1] != EMG_HELLO) {
        d->stats.version_errors++; /* HELLO's layout is frozen: readable from any version */
    } else {
        f->version = b[0];
        f->type = b[1];
        f->flags = b[2];
        f->seq = rd32(b + 4);
        f->payload_len = rd16(b + 8);
        f->payload = b + EMG_HEADER_SIZE;
        if (parse_payload(f)) {
            d->stats.frames++;
            return 1;
        }
        d->stats.malformed++;
    }
    d->stats.dropped_bytes += run;
    return 0;
}

int emg_decoder_feed(emg_decoder_t *d, uint8_t byte, emg_frame_t *frame) {
    if (byte == 0) {
        if (d->skipping) {
            d->skipping = 0;
            return 0;
        }
        if (d->len == 0) return 0; /* idle delimiter */
        return finish_frame(d, frame);
    }
    if (d->skipping) {
        d->stats.dropped_bytes++;
        return 0;
    }
    if (d->len >= d->cap) {
        /* Longer than any valid frame: drop it and resynchronise at the next 0x00. */
        d->stats.oversize++;
        d->stats.dropped_bytes += d->len + 1u;
        d->len = 0;
        d->skipping = 1;
        return 0;
    }
    d->buf[d->len++] = byte;
    return 0;
}
