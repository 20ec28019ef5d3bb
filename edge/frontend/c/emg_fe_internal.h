/* Internal header of the front-end kernel (not part of the API; that is emg_frontend.h).
 *
 * A build compiles three files and the two headers:
 *
 *     emg_fe_plan.c     the plan: checks the tables, keeps what the stages need, lays out the workspace
 *     emg_fe_stages.c   §3 window, §5 power, §6 filterbank, §7 log, and emg_fe_compute (frame loop)
 *     one DFT (§4):     emg_fe_dft_f64.c   exact float64 sums, AVX2+FMA path chosen at run time
 *                       emg_fe_dft_int64.c plain int64 sums, no floating point (MCUs without a double FPU)
 *
 * The DFT file implements the four functions declared at the end; the linker, not a macro, picks
 * the variant. Nothing here or in the plan and stage files uses a floating-point type, so the
 * int64 build contains none.
 *
 * Assumptions, checked at compile time below: int64_t is two's complement (C99 guarantees it for
 * the exact-width types) and `>>` of a negative int64_t is an arithmetic shift (floor division by
 * 2^k; implementation-defined in C99, true for gcc, clang and MSVC).
 */
#ifndef EMG_FE_INTERNAL_H
#define EMG_FE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "emg_frontend.h"

/* --- compile-time checks of the integer assumptions (a negative array size fails the build) */
typedef char emg_fe_check_arithmetic_shift[(((int64_t)-5) >> 1) == -3 ? 1 : -1];
typedef char emg_fe_check_twos_complement[(((int64_t)-5) & 7) == 3 ? 1 : -1]; /* `& 65535`: floor residue */

#define TARGET_BITS 35      /* §3: sum of |u| is normalised to 35 bits */
#define TWIDDLE_BITS 26     /* §4: Q26 twiddles */
#define POWER_INPUT_BITS 30 /* §5 */
#define EMG_FE_MAX_BLOCK 4  /* most frames one emg_fe_dft call takes (plan->block) */

/* The DFT's own tables; each DFT file defines the struct. */
typedef struct emg_fe_dft emg_fe_dft;

struct emg_fe_plan {
    int32_t L, N, N1, N2, n1c, k_lo, k_hi, M, max_power_bits; /* N = N1*N2; n1c = ceil(L/N2) rows of u */
    int32_t rows_a;    /* k1 rows multiplied out in pass A: N1/2+1 if symmetric, else N1 */
    int32_t symmetric; /* the twiddles satisfy C[N-j] = C[j], S[N-j] = -S[j] */
    int32_t kb;        /* set by the DFT: X is stored from bin kb <= k_lo ... */
    int32_t n_x;       /* ... in n_x slots per frame (bins kb..kb+n_x-1) */
    int32_t block;     /* set by the DFT: frames per emg_fe_dft call, 1..EMG_FE_MAX_BLOCK */
    int32_t *window;   /* [L] Q30, 0..2^30 (int32) */
    int32_t *w;        /* [nnz] Q16 weights (17 bits) */
    int32_t *wbin;     /* [nnz] bin index k - k_lo */
    int32_t *bstart;   /* [M+1] band m uses weights bstart[m]..bstart[m+1]-1 */
    int64_t log2t[257]; /* Q16, 0..65536 */
    int64_t db_coeff;
    emg_fe_dft *dft;   /* set by the DFT */
    size_t dft_bytes;  /* set by the DFT: scratch bytes one emg_fe_dft call needs */
    size_t ws_bytes;
};

/* The caller's workspace, laid out by emg_fe_ws_layout (emg_fe_plan.c). */
typedef struct {
    int64_t *u;         /* [block][u_n]: u of §3, zero-padded to n1c*N2; row n1 = samples N2*n1.. */
    int64_t *xre, *xim; /* [block][x_n]: X of bins kb.. (§4 output) */
    int64_t *pw;        /* [k_hi-k_lo+1]: P, then P' (§5) */
    void *dft;          /* dft_bytes, 64-byte aligned: the DFT's scratch */
    size_t u_n, x_n;    /* per-frame strides in int64 units (multiples of 8: 64 bytes) */
} emg_fe_workspace;

emg_fe_workspace emg_fe_ws_layout(const emg_fe_plan *p, void *mem);

/* n rounded up to a multiple of 8 (8-byte units: 64 bytes, a cache line). */
static inline size_t emg_fe_align8(size_t n) { return (n + 7) & ~(size_t)7; }

/* --- integer helpers (§2) --------------------------------------------------------------- */

/* Number of significant bits of a >= 0 (0 for 0). */
static inline int bitlen64(int64_t a) {
#if defined(__GNUC__)
    return a ? 64 - __builtin_clzll((unsigned long long)a) : 0;
#else
    int n = 0;
    uint64_t v = (uint64_t)a;
    while (v) { n++; v >>= 1; }
    return n;
#endif
}

/* rshift(a, k) of §2: k > 0 rounds half up, floor((a + 2^(k-1)) / 2^k); k <= 0 is a * 2^-k
 * (a multiplication: `<<` of a negative value is undefined in C99). Callers keep the result
 * and a + 2^(k-1) inside int64 (the spec's bounds). */
static inline int64_t rshift(int64_t a, int k) {
    return k > 0 ? (a + ((int64_t)1 << (k - 1))) >> k : a * ((int64_t)1 << -k);
}

static inline int64_t abs64(int64_t a) { return a < 0 ? -a : a; }

/* --- the DFT (§4): implemented by exactly one of emg_fe_dft_f64.c, emg_fe_dft_int64.c ------ */

/* Called by emg_fe_plan_create once the tables passed its checks: sets p->kb, n_x, block and
 * dft_bytes and allocates p->dft (setting it before any further allocation, so that
 * emg_fe_dft_free can release a partial one). EMG_FE_OK or EMG_FE_ENOMEM. */
int emg_fe_dft_plan(emg_fe_plan *p, const emg_fe_tables *t);
void emg_fe_dft_free(emg_fe_dft *d); /* NULL: nothing */

/* X of the bins k_lo..k_hi (at slots k - kb) of n (1..p->block) frames: frame i reads
 * u + i*u_stride (n1c*N2 values) and writes xre/xim + i*x_stride. |X| < 2^35 + 2^14 (int64).
 * scratch: p->dft_bytes, 64-byte aligned. */
void emg_fe_dft_frames(const emg_fe_plan *p, const int64_t *u, size_t u_stride, int n, int64_t *xre,
                       int64_t *xim, size_t x_stride, void *scratch);

/* emg_fe_isa (emg_frontend.h) is the fourth: the DFT names its code path. */

#endif /* EMG_FE_INTERNAL_H */
