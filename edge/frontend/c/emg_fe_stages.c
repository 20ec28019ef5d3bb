/* Integer log-Mel front-end, the stages every build shares, in the order of FRONTEND.md: §3 window
 * and block normalisation, (§4 the DFT: the build's DFT file), §5 power, §6 filterbank, §7 log;
 * and emg_fe_compute, the frame loop that chains them. Integer only; each step names its width:
 *
 *   §3  x*W: int16 * Q30 -> int64, |x*W| <= 2^45; S = sum |x*W| < 2^59 (int64);
 *       u = rshift(x*W, -s), s = 35 - bitlen(S) in -24..34, rounds half up: |u| < 2^36.
 *   §5  X' = rshift(X, r), r = max(0, bitlen(max |X|) - 30): |X'| <= 2^30; P = X_re'^2 + X_im'^2
 *       <= 2^61; P' = rshift(P, e), e = max(0, bitlen(max P) - max_power_bits). All int64.
 *   §6  E = sum W*P' over the band's Q16 weights < 2^62 (the plan checked the weight sums), int64.
 *   §7  log2 E by the Q16 table with 22-bit linear interpolation (rounded half up), minus the
 *       exponent 16 + 60 + 2s - 2r - e; dB/64 = round(ell * K / 2^32); output clamped to 0..32767
 *       (the only saturation: the 0 dB floor).
 */
#include <string.h>

#include "emg_fe_internal.h"

/* --- §3 window and block normalisation --------------------------------------------------- */

/* Writes u (zero-padded to n1c*N2) and returns s; S = 0 sets *silent (all features 0, u undefined). */
static int window_frame(const emg_fe_plan *p, const int16_t *x, int64_t *u, int *silent) {
    const int L = p->L, padded = p->n1c * p->N2;
    int64_t S = 0; /* int64: sum of |x*W| <= 2^14 * 2^15 * 2^30 < 2^59 */
    int n, s;
    for (n = 0; n < L; n++) {
        u[n] = (int64_t)x[n] * p->window[n]; /* int64: |x*W| <= 2^45 */
        S += abs64(u[n]);
    }
    *silent = S == 0;
    if (*silent) return 0;
    s = TARGET_BITS - bitlen64(S); /* -24..34 */
    /* u = rshift(x*W, -s), the two cases apart so that the loops stay branch-free */
    if (s >= 0) {
        const int64_t scale = (int64_t)1 << s; /* int64: |u| < 2^36 (sum |u| < 2^35 + L/2) */
        for (n = 0; n < L; n++) u[n] *= scale;
    } else {
        for (n = 0; n < L; n++) u[n] = rshift(u[n], -s); /* rounds half up */
    }
    for (n = L; n < padded; n++) u[n] = 0;
    return s;
}

/* --- §5 power ----------------------------------------------------------------------------- */

/* P' of the bins k_lo..k_hi (X at slots k - kb) into pw; returns 2r + e, the binary exponent
 * P' has given up (P' = |X|^2 / 2^(2r+e), rounded). */
static int power(const emg_fe_plan *p, const int64_t *restrict xre, const int64_t *restrict xim,
                 int64_t *restrict pw) {
    const int K = p->k_hi - p->k_lo + 1, off = p->k_lo - p->kb;
    int64_t m = 0, pmax = 0; /* int64: max |X| < 2^35 + 2^14; max P <= 2^61 */
    int k, r, e;
    for (k = 0; k < K; k++) {
        const int64_t a = abs64(xre[off + k]), b = abs64(xim[off + k]);
        m = a > m ? a : m;
        m = b > m ? b : m;
    }
    r = bitlen64(m) - POWER_INPUT_BITS;
    r = r > 0 ? r : 0;
    for (k = 0; k < K; k++) {
        const int64_t a = rshift(xre[off + k], r), b = rshift(xim[off + k], r); /* int64: |X'| <= 2^30 */
        const int64_t pk = a * a + b * b;                                       /* int64: P <= 2^61 */
        pw[k] = pk;
        pmax = pk > pmax ? pk : pmax;
    }
    e = bitlen64(pmax) - p->max_power_bits;
    e = e > 0 ? e : 0;
    if (e > 0)
        for (k = 0; k < K; k++) pw[k] = rshift(pw[k], e); /* int64: P' <= 2^(62-G) */
    return 2 * r + e;
}

/* --- §6 filterbank ------------------------------------------------------------------------ */

static int64_t band_energy(const emg_fe_plan *p, const int64_t *pw, int band) {
    int64_t E = 0; /* int64: sum W*P' < 2^62 */
    int j;
    for (j = p->bstart[band]; j < p->bstart[band + 1]; j++) E += (int64_t)p->w[j] * pw[p->wbin[j]];
    return E;
}

/* --- §7 log ------------------------------------------------------------------------------- */

/* 1/64 dB of E * 2^-xexp (xexp = 16 + 60 + 2s - 2r - e, |xexp| < 200), clamped to 0..32767. */
static int16_t log_db(const emg_fe_plan *p, int64_t E, int xexp) {
    int bt, j;
    int64_t t, q, l2, ell, y;
    if (E == 0) return 0;                                         /* the 0 dB floor */
    bt = bitlen64(E) - 1;                                         /* b = 0..61 */
    t = bt <= 30 ? E << (30 - bt) : E >> (bt - 30);               /* int64: 2^30 <= t < 2^31 */
    j = (int)(t >> 22) - 256;                                     /* 0..255 */
    q = t & ((1 << 22) - 1);                                      /* 22 bits */
    l2 = (int64_t)bt * 65536 + p->log2t[j]
         + (((p->log2t[j + 1] - p->log2t[j]) * q + (1 << 21)) >> 22); /* int64: < 2^22 */
    ell = l2 - (int64_t)xexp * 65536;                             /* int64: |ell| < 2^24 */
    y = (ell * p->db_coeff + ((int64_t)1 << 31)) >> 32;           /* int64: |ell*K| < 2^48 */
    return (int16_t)(y < 0 ? 0 : y > 32767 ? 32767 : y);
}

/* --- the frame loop ------------------------------------------------------------------------ */

/* Frames in blocks of p->block (the DFT's choice): window each, one DFT call for the block's
 * non-silent frames, then power, filterbank and log frame by frame. */
void emg_fe_compute(const emg_fe_plan *p, const int16_t *samples, ptrdiff_t frame_stride, size_t n_frames,
                    int16_t *out, void *workspace_mem) {
    const emg_fe_workspace w = emg_fe_ws_layout(p, workspace_mem);
    const size_t M = (size_t)p->M;
    size_t f;
    for (f = 0; f < n_frames; f += (size_t)p->block) {
        const int nf = n_frames - f < (size_t)p->block ? (int)(n_frames - f) : p->block;
        int s[EMG_FE_MAX_BLOCK], live[EMG_FE_MAX_BLOCK], n_live = 0, i, band;
        for (i = 0; i < nf; i++) {
            int silent;
            const int si = window_frame(p, samples + frame_stride * (ptrdiff_t)(f + (size_t)i),
                                        w.u + (size_t)n_live * w.u_n, &silent);
            if (silent) { /* §3: S = 0 gives 0 */
                memset(out + (f + (size_t)i) * M, 0, sizeof(int16_t) * M);
                continue;
            }
            s[n_live] = si;
            live[n_live++] = i;
        }
        if (n_live == 0) continue;
        emg_fe_dft_frames(p, w.u, w.u_n, n_live, w.xre, w.xim, w.x_n, w.dft);
        for (i = 0; i < n_live; i++) {
            int16_t *o = out + (f + (size_t)live[i]) * M;
            const int xexp = 16 + 60 + 2 * s[i] - power(p, w.xre + (size_t)i * w.x_n, w.xim + (size_t)i * w.x_n, w.pw);
            for (band = 0; band < p->M; band++) o[band] = log_db(p, band_energy(p, w.pw, band), xexp);
        }
    }
}
