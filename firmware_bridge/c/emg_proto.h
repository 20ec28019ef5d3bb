/*
 * emg_proto: C99 codec for the EMG bridge wire protocol, version 1.
 *
 * Specification: firmware_bridge/PROTOCOL.md. Wire frame:
 *     COBS( header(10) | payload(0..1024) | crc32(4) ) | 0x00
 * header (little-endian): version u8, type u8, flags u8, reserved u8, seq u32, payload_len u16.
 * CRC-32: poly 0x04C11DB7 reflected, init/xorout 0xFFFFFFFF, check("123456789") = 0xCBF43926.
 *
 * No dynamic allocation, no global state: the caller provides every buffer.
 * Encoders write one complete wire frame (COBS + delimiter) into `out` and return its length,
 * or 0 if `out_cap` is too small or a field is out of range. The decoder is fed one byte at a
 * time (e.g. from a UART interrupt) and reports each valid frame; the frame's pointers refer
 * into the decoder's buffer and stay valid until the next call to emg_decoder_feed().
 */
#ifndef EMG_PROTO_H
#define EMG_PROTO_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define EMG_PROTOCOL_VERSION 1u
#define EMG_HEADER_SIZE 10u
#define EMG_CRC_SIZE 4u
#define EMG_MAX_PAYLOAD 1024u
#define EMG_MAX_FRAME (EMG_HEADER_SIZE + EMG_MAX_PAYLOAD + EMG_CRC_SIZE) /* 1038 */
#define EMG_MAX_ENCODED 1043u /* COBS worst case of EMG_MAX_FRAME, no delimiter */
#define EMG_MAX_WIRE (EMG_MAX_ENCODED + 1u) /* with the 0x00 delimiter */
#define EMG_MAX_SAMPLES 508u
#define EMG_MAX_ID_BYTES 32u
#define EMG_MAX_LABEL_BYTES 64u
#define EMG_MAX_MESSAGE_BYTES 128u
/* Smallest decoder buffer that holds every host->unit frame (ALERT with a 64-byte label). */
#define EMG_UNIT_RX_BUFFER 104u
/* Worst-case wire size of a frame with `payload_len` payload bytes (incl. delimiter). */
#define EMG_WIRE_SIZE(payload_len) \
    ((EMG_HEADER_SIZE + (payload_len) + EMG_CRC_SIZE) + \
     ((EMG_HEADER_SIZE + (payload_len) + EMG_CRC_SIZE) + 253u) / 254u + 1u)

typedef enum {
    EMG_HELLO = 0x01,
    EMG_HELLO_REQ = 0x02,
    EMG_START = 0x03,
    EMG_STOP = 0x04,
    EMG_SAMPLES = 0x05,
    EMG_ALERT = 0x06,
    EMG_ACK = 0x07,
    EMG_NACK = 0x08,
    EMG_HEARTBEAT = 0x09,
    EMG_ERROR = 0x0A,
    EMG_CONFIG = 0x0B,
    EMG_QEMG_SUMMARY = 0x0C /* host -> unit, fire-and-forget: never ACKed (PROTOCOL.md §4) */
} emg_type_t;

typedef enum {
    EMG_ERR_NONE = 0x0000,
    EMG_ERR_BAD_CRC = 0x0001,
    EMG_ERR_UNSUPPORTED_VERSION = 0x0002,
    EMG_ERR_UNKNOWN_TYPE = 0x0003,
    EMG_ERR_MALFORMED = 0x0004,
    EMG_ERR_UNSUPPORTED_CONFIG = 0x0005,
    EMG_ERR_INVALID_STATE = 0x0006,
    EMG_ERR_OVERRUN = 0x0007,
    EMG_ERR_ADC_FAULT = 0x0008,
    EMG_ERR_BUSY = 0x0009,
    EMG_ERR_INTERNAL = 0x000A
} emg_error_code_t;

typedef enum {
    EMG_CFG_SAMPLE_RATE = 0x0001,
    EMG_CFG_SAMPLES_PER_FRAME = 0x0002,
    EMG_CFG_HEARTBEAT_MS = 0x0003,
    EMG_CFG_HIGHPASS_HZ = 0x0004,
    EMG_CFG_LOWPASS_HZ = 0x0005,
    EMG_CFG_NOTCH_HZ = 0x0006
} emg_config_key_t;

/* QEMG_SUMMARY pattern codes (u8); 5..255 reserved, show them as unknown. */
typedef enum {
    EMG_QEMG_NONE = 0,
    EMG_QEMG_INDETERMINATE = 1,
    EMG_QEMG_WITHIN_LIMITS = 2,
    EMG_QEMG_NEUROGENIC = 3,
    EMG_QEMG_MYOPATHIC = 4
} emg_qemg_pattern_t;

/* Payload size of QEMG_SUMMARY (fixed). */
#define EMG_QEMG_SUMMARY_SIZE 34u

/* Strings are UTF-8, not NUL-terminated: pointer + length. */
typedef struct {
    uint8_t protocol_version; /* highest version the unit speaks */
    uint8_t sample_width;     /* bits, 1..32 */
    uint8_t channels;         /* 1..255 */
    uint32_t sample_rate;     /* Hz, > 0 */
    uint32_t uv_per_lsb_bits; /* IEEE-754 float32 bit pattern, µV per LSB (see emg_f32_bits) */
    const char *device_id;
    uint8_t device_id_len;    /* 0..32 */
    const char *firmware_version;
    uint8_t firmware_version_len; /* 0..32 */
} emg_hello_t;

typedef struct { uint8_t protocol_version; } emg_hello_req_t;

typedef struct {
    uint8_t protocol_version;
    uint16_t samples_per_frame; /* 0 = unit default, else 1..508 */
    uint32_t sample_rate;       /* Hz, 0 = keep */
} emg_start_t;

typedef struct {
    uint64_t first_index;
    uint16_t n;            /* number of int16 samples, 1..508 */
    const uint8_t *le;     /* 2*n bytes, little-endian int16; read with emg_sample() */
} emg_samples_t;

typedef struct {
    uint32_t alert_id;
    uint64_t onset, offset;  /* sample indices, offset >= onset */
    uint16_t confidence;     /* 0..10000, units of 1e-4 */
    uint8_t severity;
    const char *label;
    uint8_t label_len;       /* 0..64 */
} emg_alert_t;

typedef struct {
    uint8_t ref_type;
    uint16_t reason;  /* NACK only (emg_error_code_t) */
    uint32_t ref_id;  /* alert_id for ALERT, else the answered frame's seq */
} emg_ack_t;

typedef struct {
    uint32_t uptime_ms;
    uint8_t state;        /* 0 IDLE, 1 STREAMING, 2 ENDED */
    uint64_t next_index;
    uint32_t rx_errors;
} emg_heartbeat_t;

typedef struct {
    uint16_t code;
    const char *message;
    uint8_t message_len;  /* 0..128 */
} emg_error_t;

typedef struct {
    uint16_t key;
    int32_t value;
} emg_config_t;

/* Measures of one voluntary stretch; fixed point, saturated by the sender. */
typedef struct {
    uint32_t stretch_id;             /* the host's summary counter */
    uint64_t start, end;             /* sample indices, end (exclusive) >= start */
    uint8_t n_units;                 /* motor units found, saturating at 255 */
    uint8_t rule_pattern;            /* emg_qemg_pattern_t of the rule-based summary */
    uint8_t model_pattern;           /* emg_qemg_pattern_t of the learned model, NONE = no model */
    uint16_t amplitude_uv;           /* median peak-to-peak amplitude, µV */
    uint16_t duration_tenth_ms;      /* median duration, 0.1 ms */
    uint16_t polyphasic_hundredth_pct; /* polyphasic units, 0..10000 = 0.00..100.00 % */
    uint16_t rate_hundredth_hz;      /* mean firing rate, 0.01 Hz */
    uint16_t model_confidence;       /* 0..10000, units of 1e-4 */
} emg_qemg_summary_t;

typedef struct {
    uint8_t version, type, flags;
    uint32_t seq;
    uint16_t payload_len;
    const uint8_t *payload;
    union {
        emg_hello_t hello;
        emg_hello_req_t hello_req;
        emg_start_t start;
        emg_samples_t samples;
        emg_alert_t alert;
        emg_ack_t ack; /* ACK and NACK */
        emg_heartbeat_t heartbeat;
        emg_error_t error;
        emg_config_t config;
        emg_qemg_summary_t qemg;
    } u;
} emg_frame_t;

/* Counters with the same meaning as the Python DecoderStats. */
typedef struct {
    uint32_t frames, crc_errors, cobs_errors, length_errors, version_errors;
    uint32_t unknown_type, malformed, oversize;
    uint64_t dropped_bytes;
} emg_stats_t;

typedef struct {
    uint8_t *buf;
    size_t cap;
    size_t len;
    int skipping;
    emg_stats_t stats;
} emg_decoder_t;

/* ---- primitives ---- */
uint32_t emg_crc32_update(uint32_t crc, const uint8_t *data, size_t n); /* crc starts at 0 */
uint32_t emg_crc32(const uint8_t *data, size_t n);
/* COBS without delimiter; returns bytes written, 0 if out_cap is too small. */
size_t emg_cobs_encode(const uint8_t *in, size_t n, uint8_t *out, size_t out_cap);
/* Returns decoded length, or -1 on invalid input / small buffer. `out` may equal `in`. */
long emg_cobs_decode(const uint8_t *in, size_t n, uint8_t *out, size_t out_cap);
uint32_t emg_f32_bits(float f);
float emg_bits_f32(uint32_t bits);
int16_t emg_sample(const emg_samples_t *s, size_t i);

/* ---- encoders: return the wire length (incl. 0x00) or 0 on error ---- */
size_t emg_encode_raw(uint8_t type, uint32_t seq, const uint8_t *payload, uint16_t payload_len,
                      uint8_t *out, size_t out_cap);
size_t emg_encode_hello(uint32_t seq, const emg_hello_t *h, uint8_t *out, size_t out_cap);
size_t emg_encode_hello_req(uint32_t seq, uint8_t protocol_version, uint8_t *out, size_t out_cap);
size_t emg_encode_start(uint32_t seq, const emg_start_t *s, uint8_t *out, size_t out_cap);
size_t emg_encode_stop(uint32_t seq, uint8_t *out, size_t out_cap);
/* Samples from native int16 values; converted to little-endian on the fly. */
size_t emg_encode_samples(uint32_t seq, uint64_t first_index, const int16_t *samples, size_t n,
                          uint8_t *out, size_t out_cap);
size_t emg_encode_alert(uint32_t seq, const emg_alert_t *a, uint8_t *out, size_t out_cap);
size_t emg_encode_ack(uint32_t seq, uint8_t ref_type, uint32_t ref_id, uint8_t *out, size_t out_cap);
size_t emg_encode_nack(uint32_t seq, uint8_t ref_type, uint32_t ref_id, uint16_t reason,
                       uint8_t *out, size_t out_cap);
size_t emg_encode_heartbeat(uint32_t seq, const emg_heartbeat_t *hb, uint8_t *out, size_t out_cap);
size_t emg_encode_error(uint32_t seq, const emg_error_t *e, uint8_t *out, size_t out_cap);
size_t emg_encode_config(uint32_t seq, const emg_config_t *c, uint8_t *out, size_t out_cap);
size_t emg_encode_qemg_summary(uint32_t seq, const emg_qemg_summary_t *q, uint8_t *out, size_t out_cap);
/* Any decoded (or filled-in) frame; f->type selects the payload, f->seq the sequence. */
size_t emg_encode_frame(const emg_frame_t *f, uint8_t *out, size_t out_cap);

/* ---- incremental decoder ---- */
/* `buf` of `cap` bytes: EMG_MAX_ENCODED for any frame, EMG_UNIT_RX_BUFFER on a unit. */
void emg_decoder_init(emg_decoder_t *d, uint8_t *buf, size_t cap);
void emg_decoder_reset(emg_decoder_t *d); /* drop a partial frame, keep stats */
/* Feed one byte; returns 1 and fills *frame when it completed a valid frame, else 0. */
int emg_decoder_feed(emg_decoder_t *d, uint8_t byte, emg_frame_t *frame);

#ifdef __cplusplus
}
#endif
#endif /* EMG_PROTO_H */
