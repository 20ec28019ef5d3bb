/*
 * Example EMG unit: streams a sine over the bridge protocol as firmware would.
 *
 *   emg_unit_example [-r RATE_HZ] [-f SINE_HZ] [-a AMPLITUDE_LSB] [-n SAMPLES_PER_FRAME]
 *                    [-s SECONDS] [-p] [TTY_PATH]
 *
 * Without TTY_PATH it writes to stdout and starts streaming at once (no host to send START):
 * HELLO, then SAMPLES frames and a HEARTBEAT every 250 ms of sample time. -p paces the output
 * in real time, otherwise it runs as fast as stdout takes it. Example:
 *   ./emg_unit_example -r 8000 -s 1 | python -c "..."   (decode with firmware_bridge.protocol)
 *
 * With TTY_PATH (a serial port or pseudo-terminal) it behaves as a unit on a link: sends HELLO,
 * answers HELLO_REQ with HELLO, START/STOP/CONFIG with ACK/NACK, ACKs every ALERT and prints
 * each alert id once (deduplicated), sends HEARTBEAT every 250 ms, paces in real time and stops
 * streaming after 5 s without a valid host frame (PROTOCOL.md §6, §8).
 *
 * The codec (emg_proto.c) is C99 without allocation; this example uses POSIX for I/O and time.
 * On a microcontroller replace write_all()/read_some() with the UART driver and now_ms() with
 * a timer, and feed emg_decoder_feed() from the UART receive interrupt.
 */
#define _POSIX_C_SOURCE 200809L
#include "emg_proto.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define HEARTBEAT_MS 250u
#define HOST_TIMEOUT_MS 5000u
#define DEDUP_IDS 64u

typedef struct {
    int fd;
    int interactive;  /* a host is on the other side (TTY_PATH given) */
    uint32_t seq;     /* transmit sequence number */
    uint64_t next_index;
    int streaming;
    uint16_t spf;
    uint32_t rate;
    uint32_t rx_errors_reported;
    uint32_t seen_ids[DEDUP_IDS];
    unsigned seen_count, seen_next;
    uint8_t tx[EMG_MAX_WIRE];
    uint8_t rx_buf[EMG_UNIT_RX_BUFFER]; /* host->unit frames are small */
    emg_decoder_t dec;
} unit_t;

static uint64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int write_all(int fd, const uint8_t *p, size_t n) {
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR || errno == EAGAIN) continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int unit_send(unit_t *u, size_t len) {
    u->seq++;
    return len ? write_all(u->fd, u->tx, len) : -1;
}

static int send_hello(unit_t *u) {
    emg_hello_t h;
    memset(&h, 0, sizeof h);
    h.protocol_version = EMG_PROTOCOL_VERSION;
    h.sample_width = 16;
    h.channels = 1;
    h.sample_rate = u->rate;
    h.uv_per_lsb_bits = emg_f32_bits(0.5f); /* 0.5 µV per LSB */
    h.device_id = "example-unit-0001";
    h.device_id_len = (uint8_t)strlen(h.device_id);
    h.firmware_version = "emg_proto-c 1.0";
    h.firmware_version_len = (uint8_t)strlen(h.firmware_version);
    return unit_send(u, emg_encode_hello(u->seq, &h, u->tx, sizeof u->tx));
}

static int send_heartbeat(unit_t *u, uint32_t uptime_ms) {
    emg_heartbeat_t hb;
    hb.uptime_ms = uptime_ms;
    hb.state = (uint8_t)u->streaming;
    hb.next_index = u->next_index;
    hb.rx_errors = u->dec.stats.crc_errors + u->dec.stats.cobs_errors + u->dec.stats.length_errors +
                   u->dec.stats.version_errors + u->dec.stats.unknown_type + u->dec.stats.malformed +
                   u->dec.stats.oversize;
    return unit_send(u, emg_encode_heartbeat(u->seq, &hb, u->tx, sizeof u->tx));
}

static int seen_before(unit_t *u, uint32_t id) {
    for (unsigned i = 0; i < u->seen_count; i++)
        if (u->seen_ids[i] == id) return 1;
    u->seen_ids[u->seen_next] = id;
    u->seen_next = (u->seen_next + 1u) % DEDUP_IDS;
    if (u->seen_count < DEDUP_IDS) u->seen_count++;
    return 0;
}

static int handle(unit_t *u, const emg_frame_t *f) {
    switch (f->type) {
    case EMG_HELLO_REQ: return send_hello(u);
    case EMG_START:
        if (f->u.start.protocol_version != EMG_PROTOCOL_VERSION)
            return unit_send(u, emg_encode_nack(u->seq, EMG_START, f->seq, EMG_ERR_UNSUPPORTED_VERSION, u->tx,
                                           sizeof u->tx));
        if (f->u.start.sample_rate != 0 && f->u.start.sample_rate != u->rate)
            return unit_send(u, emg_encode_nack(u->seq, EMG_START, f->seq, EMG_ERR_UNSUPPORTED_CONFIG, u->tx,
                                           sizeof u->tx));
        if (f->u.start.samples_per_frame) u->spf = f->u.start.samples_per_frame;
        u->streaming = 1; /* idempotent: a retransmitted START changes nothing */
        return unit_send(u, emg_encode_ack(u->seq, EMG_START, f->seq, u->tx, sizeof u->tx));
    case EMG_STOP:
        u->streaming = 0;
        return unit_send(u, emg_encode_ack(u->seq, EMG_STOP, f->seq, u->tx, sizeof u->tx));
    case EMG_CONFIG:
        if (f->u.config.key == EMG_CFG_SAMPLES_PER_FRAME && f->u.config.value >= 1 &&
            f->u.config.value <= (int32_t)EMG_MAX_SAMPLES) {
            u->spf = (uint16_t)f->u.config.value;
            return unit_send(u, emg_encode_ack(u->seq, EMG_CONFIG, f->seq, u->tx, sizeof u->tx));
        }
        return unit_send(u, emg_encode_nack(u->seq, EMG_CONFIG, f->seq, EMG_ERR_UNSUPPORTED_CONFIG, u->tx,
                                       sizeof u->tx));
    case EMG_ALERT: {
        const emg_alert_t *a = &f->u.alert;
        if (!seen_before(u, a->alert_id))
            fprintf(stderr, "ALERT #%" PRIu32 " %.*s %u.%02u%% samples %" PRIu64 "-%" PRIu64 " severity %u\n",
                    a->alert_id, (int)a->label_len, a->label, a->confidence / 100u, a->confidence % 100u,
                    a->onset, a->offset, a->severity);
        /* ACK every copy: the previous ACK may have been lost. */
        return unit_send(u, emg_encode_ack(u->seq, EMG_ALERT, a->alert_id, u->tx, sizeof u->tx));
    }
    case EMG_QEMG_SUMMARY: { /* fire-and-forget: shown, never ACKed */
        static const char *const pattern[] = {"-", "indeterminate", "within limits", "neurogenic-looking",
                                              "myopathic-looking"};
        const emg_qemg_summary_t *q = &f->u.qemg;
        fprintf(stderr, "QEMG #%" PRIu32 " samples %" PRIu64 "-%" PRIu64 ": %u units, %u uV, %u.%u ms, "
                "%u.%02u%% polyphasic, %u.%02u Hz; rules %s, model %s\n",
                q->stretch_id, q->start, q->end, q->n_units, q->amplitude_uv, q->duration_tenth_ms / 10u,
                q->duration_tenth_ms % 10u, q->polyphasic_hundredth_pct / 100u, q->polyphasic_hundredth_pct % 100u,
                q->rate_hundredth_hz / 100u, q->rate_hundredth_hz % 100u,
                q->rule_pattern <= 4u ? pattern[q->rule_pattern] : "?",
                q->model_pattern <= 4u ? pattern[q->model_pattern] : "?");
        return 0;
    }
    default: return 0; /* HEARTBEAT, ACK, ...: only proof that the host is alive */
    }
}

static void usage(const char *prog) {
    fprintf(stderr, "usage: %s [-r RATE_HZ] [-f SINE_HZ] [-a AMPLITUDE_LSB] [-n SAMPLES_PER_FRAME] "
                    "[-s SECONDS] [-p] [TTY_PATH]\n", prog);
    exit(2);
}

int main(int argc, char **argv) {
    static unit_t u;
    double sine_hz = 1000.0, amplitude = 1000.0, seconds = 0.0;
    int pace = 0, opt;
    int16_t frame[EMG_MAX_SAMPLES];
    uint64_t t0, last_hb = 0, last_host, hb_next_index = 0;

    u.rate = 48000;
    u.spf = 0;
    while ((opt = getopt(argc, argv, "r:f:a:n:s:ph")) != -1) {
        switch (opt) {
        case 'r': u.rate = (uint32_t)strtoul(optarg, NULL, 10); break;
        case 'f': sine_hz = atof(optarg); break;
        case 'a': amplitude = atof(optarg); break;
        case 'n': u.spf = (uint16_t)strtoul(optarg, NULL, 10); break;
        case 's': seconds = atof(optarg); break;
        case 'p': pace = 1; break;
        default: usage(argv[0]);
        }
    }
    if (u.rate < 100 || amplitude < 0 || amplitude > 32767 || u.spf > EMG_MAX_SAMPLES) usage(argv[0]);
    if (u.spf == 0) u.spf = (uint16_t)(u.rate / 100u > EMG_MAX_SAMPLES ? EMG_MAX_SAMPLES : u.rate / 100u);
    if (u.spf == 0) u.spf = 1;

    if (optind < argc) {
        struct termios tio;
        u.fd = open(argv[optind], O_RDWR | O_NOCTTY | O_NONBLOCK);
        if (u.fd < 0) {
            perror(argv[optind]);
            return 1;
        }
        if (tcgetattr(u.fd, &tio) == 0) {
            /* raw mode (POSIX equivalent of cfmakeraw): no echo, no line editing, 8 bits */
            tio.c_iflag &= (tcflag_t) ~(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON);
            tio.c_oflag &= (tcflag_t) ~OPOST;
            tio.c_lflag &= (tcflag_t) ~(ECHO | ECHONL | ICANON | ISIG | IEXTEN);
            tio.c_cflag &= (tcflag_t) ~(CSIZE | PARENB);
            tio.c_cflag |= CS8;
            tcsetattr(u.fd, TCSANOW, &tio);
        }
        u.interactive = 1;
        pace = 1;
    } else {
        u.fd = STDOUT_FILENO;
        u.streaming = 1; /* no host to send START */
    }
    emg_decoder_init(&u.dec, u.rx_buf, sizeof u.rx_buf);

    t0 = last_host = now_ms();
    if (send_hello(&u) < 0) return 1;
    for (;;) {
        uint64_t t = now_ms();
        uint64_t elapsed_samples = pace ? (t - t0) * u.rate / 1000u : UINT64_MAX;
        if (seconds > 0 && (double)u.next_index >= seconds * u.rate) break;

        if (u.interactive) {
            uint8_t in[256];
            ssize_t r = read(u.fd, in, sizeof in);
            for (ssize_t i = 0; i < r; i++) {
                emg_frame_t f;
                if (emg_decoder_feed(&u.dec, in[i], &f)) {
                    last_host = t;
                    if (handle(&u, &f) < 0) return 1;
                }
            }
            if (u.streaming && t - last_host > HOST_TIMEOUT_MS) u.streaming = 0; /* host gone */
            if (t - last_hb >= HEARTBEAT_MS) {
                last_hb = t;
                if (send_heartbeat(&u, (uint32_t)(t - t0)) < 0) return 1;
            }
        } else if (u.next_index >= hb_next_index) {
            /* stdout: heartbeats on sample time, so the output is deterministic */
            hb_next_index = u.next_index + u.rate * HEARTBEAT_MS / 1000u;
            if (send_heartbeat(&u, (uint32_t)(u.next_index * 1000u / u.rate)) < 0) return 1;
        }

        /* Acquire: the sample counter runs whether or not we stream (PROTOCOL.md §7). */
        if (elapsed_samples >= u.next_index + u.spf) {
            for (unsigned i = 0; i < u.spf; i++) {
                double ph = 2.0 * 3.14159265358979323846 * sine_hz * (double)(u.next_index + i) / u.rate;
                frame[i] = (int16_t)lround(amplitude * sin(ph));
            }
            if (u.streaming && unit_send(&u, emg_encode_samples(u.seq, u.next_index, frame, u.spf, u.tx,
                                                           sizeof u.tx)) < 0)
                return 1;
            u.next_index += u.spf;
        } else {
            struct timespec ts = {0, 1000000L}; /* 1 ms */
            nanosleep(&ts, NULL);
        }
    }
    return 0;
}
