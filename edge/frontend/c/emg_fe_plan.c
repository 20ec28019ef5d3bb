/* Integer log-Mel front-end, the plan: checks a config's tables against the bounds of
 * FRONTEND.md §9, keeps what the stages need (window and weights as int32, the Q16 log table),
 * asks the DFT file for its own tables, and lays out the caller's workspace. See
 * emg_fe_internal.h for the files of a build and emg_frontend.h for the API.
 *
 * Widths: the window is Q30 (0..2^30), weights Q16 (0..65536, 17 bits), both held as int32;
 * log2 table Q16 (0..65536), db_coeff < 2^24, int64. Every band's weight sum must be
 * < 2^(62 - max_power_bits) so that a band energy E = sum W*P' stays < 2^62 (§6).
 */
#include <stdlib.h>

#include "emg_fe_internal.h"

/* --- workspace ------------------------------------------------------------------------- */

/* The blocks of emg_fe_workspace in order, each a multiple of 64 bytes, from mem rounded up to
 * 64 bytes; ws_bytes below is the same sum. */
emg_fe_workspace emg_fe_ws_layout(const emg_fe_plan *p, void *mem) {
    emg_fe_workspace w;
    int64_t *d = (int64_t *)(((uintptr_t)mem + 63) & ~(uintptr_t)63);
    w.u_n = emg_fe_align8((size_t)p->n1c * p->N2);
    w.x_n = emg_fe_align8((size_t)p->n_x);
    w.u = d;   d += (size_t)p->block * w.u_n;
    w.xre = d; d += (size_t)p->block * w.x_n;
    w.xim = d; d += (size_t)p->block * w.x_n;
    w.pw = d;  d += emg_fe_align8((size_t)(p->k_hi - p->k_lo + 1));
    w.dft = d;
    return w;
}

static size_t ws_bytes(const emg_fe_plan *p) {
    const size_t int64s = (size_t)p->block * (emg_fe_align8((size_t)p->n1c * p->N2) +
                                              2 * emg_fe_align8((size_t)p->n_x)) +
                          emg_fe_align8((size_t)(p->k_hi - p->k_lo + 1));
    return 8 * int64s + p->dft_bytes + 64; /* + room to align the start to 64 bytes */
}

/* --- plan ------------------------------------------------------------------------------- */

void emg_fe_plan_free(emg_fe_plan *p) {
    if (!p) return;
    free(p->window);
    emg_fe_dft_free(p->dft);
    free(p->w);
    free(p->wbin);
    free(p->bstart);
    free(p);
}

size_t emg_fe_workspace_size(const emg_fe_plan *p) { return p->ws_bytes; }
int32_t emg_fe_n_mels(const emg_fe_plan *p) { return p->M; }
int32_t emg_fe_frame_length(const emg_fe_plan *p) { return p->L; }

/* Allocates with malloc (plan and tables; emg_fe_plan_free releases them). */
int emg_fe_plan_create(const emg_fe_tables *t, emg_fe_plan **out) {
    emg_fe_plan *p;
    int log2n, j, k, m;
    const int64_t one26 = (int64_t)1 << TWIDDLE_BITS;
    int64_t sum;
    *out = NULL;
    /* sizes (§1): the bounds of §9 need L <= 2^14 and N a power of two >= 64 */
    if (!t || t->frame_length < 64 || t->frame_length > 16384 || t->fft_size < t->frame_length ||
        t->fft_size > 16384 || (t->fft_size & (t->fft_size - 1)) || t->k_lo < 0 || t->k_hi < t->k_lo ||
        t->k_hi > t->fft_size / 2 || t->n_mels < 1 || t->n_weights < t->n_mels ||
        t->max_power_bits < 1 || t->max_power_bits > 61 || !t->window || !t->cos_q26 || !t->sin_q26 ||
        !t->weight || !t->weight_bin || !t->band_start || !t->log2_table)
        return EMG_FE_EINVAL;
    p = (emg_fe_plan *)calloc(1, sizeof *p);
    if (!p) return EMG_FE_ENOMEM;
    p->L = t->frame_length;
    p->N = t->fft_size;
    for (log2n = 0; (1 << log2n) < p->N; log2n++) {}
    p->N2 = 1 << ((log2n + 1) / 2); /* N >= 64: N2 >= 8, N1 >= 8, both multiples of 8 */
    p->N1 = p->N / p->N2;
    p->n1c = (p->L + p->N2 - 1) / p->N2;
    p->k_lo = t->k_lo;
    p->k_hi = t->k_hi;
    p->M = t->n_mels;
    p->max_power_bits = t->max_power_bits;
    p->db_coeff = t->db_coeff;

    /* tables: check the ranges the bounds of §9 rely on */
    for (j = 0; j < p->N; j++)
        if (t->cos_q26[j] < -one26 || t->cos_q26[j] > one26 || t->sin_q26[j] < -one26 || t->sin_q26[j] > one26)
            goto invalid;
    for (j = 0; j <= 256; j++) {
        if (t->log2_table[j] < 0 || t->log2_table[j] > 65536 || (j && t->log2_table[j] < t->log2_table[j - 1]))
            goto invalid;
        p->log2t[j] = t->log2_table[j];
    }
    if (t->db_coeff < 0 || t->db_coeff >= ((int64_t)1 << 24)) goto invalid;
    for (j = 0; j < p->L; j++)
        if (t->window[j] < 0 || t->window[j] > ((int64_t)1 << 30)) goto invalid;
    for (m = 0; m < p->M; m++) {
        const int64_t b0 = t->band_start[m], b1 = m + 1 < p->M ? t->band_start[m + 1] : t->n_weights;
        if (b0 < 0 || b1 < b0 || b1 > t->n_weights || (m == 0 && b0 != 0)) goto invalid;
        /* weights 0..65536 on bins k_lo..k_hi; every band sum < 2^(62 - max_power_bits) so E < 2^62 */
        for (sum = 0, k = (int)b0; k < b1; k++) {
            if (t->weight[k] < 0 || t->weight[k] > 65536 || t->weight_bin[k] < 0 ||
                t->weight_bin[k] > p->k_hi - p->k_lo)
                goto invalid;
            sum += t->weight[k];
        }
        if (sum >= ((int64_t)1 << (62 - p->max_power_bits))) goto invalid;
    }
    p->symmetric = 1;
    for (j = 1; j < p->N; j++)
        if (t->cos_q26[p->N - j] != t->cos_q26[j] || t->sin_q26[p->N - j] != -t->sin_q26[j]) p->symmetric = 0;
    p->rows_a = p->symmetric ? p->N1 / 2 + 1 : p->N1;

    p->window = (int32_t *)malloc(sizeof(int32_t) * (size_t)p->L);
    p->w = (int32_t *)malloc(sizeof(int32_t) * (size_t)t->n_weights);
    p->wbin = (int32_t *)malloc(sizeof(int32_t) * (size_t)t->n_weights);
    p->bstart = (int32_t *)malloc(sizeof(int32_t) * ((size_t)p->M + 1));
    if (!p->window || !p->w || !p->wbin || !p->bstart || emg_fe_dft_plan(p, t) != EMG_FE_OK) {
        emg_fe_plan_free(p);
        return EMG_FE_ENOMEM;
    }
    for (j = 0; j < p->L; j++) p->window[j] = (int32_t)t->window[j];
    for (j = 0; j < t->n_weights; j++) {
        p->w[j] = (int32_t)t->weight[j];
        p->wbin[j] = (int32_t)t->weight_bin[j];
    }
    for (m = 0; m < p->M; m++) p->bstart[m] = (int32_t)t->band_start[m];
    p->bstart[p->M] = t->n_weights;
    p->ws_bytes = ws_bytes(p);
    *out = p;
    return EMG_FE_OK;
invalid:
    emg_fe_plan_free(p);
    return EMG_FE_EINVAL;
}
