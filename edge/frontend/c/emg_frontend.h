/* Integer log-Mel front-end, compiled kernel (spec: edge/FRONTEND.md, version 1.1).
 *
 * Plain C99, no libm, no floating-point rounding anywhere in the result: every output is the
 * int16 value the spec (and the numpy reference in edge/frontend/) defines, bit for bit. The
 * float64 arithmetic inside the DFT only ever holds integers below 2^51, which doubles represent
 * exactly, so it is an exact way to form the spec's int64 sums (see emg_fe_dft_f64.c). Built with
 * emg_fe_dft_int64.c instead, it forms them in int64 and uses no floating point (below).
 *
 * Files (edge/FRONTEND.md §11 has the table): this header, emg_fe_internal.h, emg_fe_plan.c,
 * emg_fe_stages.c, and one DFT: emg_fe_dft_f64.c (default; AVX2+FMA chosen at run time on
 * x86-64) or emg_fe_dft_int64.c (no floating point). The build picks the DFT by file.
 *
 * The tables are inputs, not recomputed here: they are defined with cos/sin/log and a C libm
 * may round a last bit differently (FRONTEND.md §8). Export them from the Python reference:
 * `emg-edge frontend-tables --bundle default --out fe_tables.h` writes them as a header
 * (fe_example.c shows its use; edge/frontend/pipeline.py hands the same arrays to the Python
 * extension). Usage:
 *
 *     emg_fe_tables t = { ... };                 // pointers stay owned by the caller
 *     emg_fe_plan *plan;
 *     if (emg_fe_plan_create(&t, &plan) != EMG_FE_OK) ...;   // copies what it needs
 *     void *work = malloc(emg_fe_workspace_size(plan));       // one per concurrent caller
 *     emg_fe_compute(plan, samples, n_frames, hop, out, work); // out: n_frames × n_mels int16
 *     free(work); emg_fe_plan_free(plan);
 *
 * A plan is read-only after creation and may be shared between threads; each thread needs
 * its own workspace. emg_fe_plan_create allocates the plan with malloc (emg_fe_plan_free
 * releases it); the workspace is the caller's (static memory is fine).
 *
 * Without a double-precision FPU (e.g. Cortex-M4F/M33, single precision only), build
 * emg_fe_dft_int64.c in place of emg_fe_dft_f64.c: the DFT is then the plain int64 sums of FRONTEND.md
 * §4 (as DftPlan.dft_int64 in edge/frontend/fft.py), and the kernel contains no floating-point
 * type or operation at all. Same API, same features bit for bit (tests/edge/
 * test_frontend_c_tables.py checks the golden signals at five configs, noise and impulses, and
 * the DFT itself on adversarial inputs). It works one frame at a time and keeps less memory;
 * bytes of plan / workspace (64-bit host; pointers make the plan a few bytes smaller on 32-bit):
 *
 *     config                                   int64 variant      float64 default
 *     44.1 kHz, L 1103, N 2048, 64 bands       30 496 / 21 952    505 040 / 342 208
 *     16 kHz,   L 400,  N 512,  40 bands       11 988 / 10 304    143 764 / 100 672
 *
 * The int64 plan holds the window (4 L), C and S as int32 (8 N), the weights (8 per non-zero
 * weight), band starts and the 257-entry log table; the workspace holds u (8 ceil(L/N2) N2),
 * three columns of Y (24 N2) and X, P (24 per needed bin), each block rounded up to 64 bytes. The int64 tables of the exported
 * header are read only by emg_fe_plan_create and can stay in flash. Cost at 44.1 kHz: about
 * 158 000 int64 multiply-adds per frame (pass A 39 000, pass B 119 000); on the x86-64 build
 * machine 72 us per frame, against 23 us (AVX2+FMA) and 86 us (portable float64).
 *
 * Assumptions (checked at compile time in emg_fe_internal.h): int64_t is two's complement (C99
 * guarantees it for the exact-width types) and `>>` of a negative int64_t is an arithmetic
 * shift (floor division by 2^k; implementation-defined in C99, true for gcc, clang and MSVC).
 */
#ifndef EMG_FRONTEND_H
#define EMG_FRONTEND_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define EMG_FE_SPEC_VERSION "1.1"

#define EMG_FE_OK 0
#define EMG_FE_EINVAL (-1) /* a table or size outside what the spec allows (bounds would not hold) */
#define EMG_FE_ENOMEM (-2)

/* The per-config tables (FRONTEND.md §3, §4, §6, §7, §8). All int64 arrays, read during
 * emg_fe_plan_create only. Python names in brackets. */
typedef struct emg_fe_tables {
    int32_t frame_length;          /* L, 64..16384 [cfg.frame_length] */
    int32_t fft_size;              /* N, power of two, L <= N <= 16384 [cfg.fft_size] */
    int32_t k_lo, k_hi;            /* first/last needed bin, 0 <= k_lo <= k_hi <= N/2 */
    int32_t n_mels;                /* M >= 1 */
    int32_t max_power_bits;        /* 62 - G [MelFilterbank.max_power_bits] */
    const int64_t *window;         /* [L] Q30 periodic Hann, 0..2^30 [window.hann_q30] */
    const int64_t *cos_q26;        /* [N] C_j, |C_j| <= 2^26 [fft.twiddles(N)[0]] */
    const int64_t *sin_q26;        /* [N] S_j [fft.twiddles(N)[1]] */
    int32_t n_weights;             /* number of non-zero Q16 weights */
    const int64_t *weight;         /* [n_weights] Q16, 1..65536, band after band [MelFilterbank._w] */
    const int64_t *weight_bin;     /* [n_weights] bin k - k_lo of each weight [MelFilterbank._k] */
    const int64_t *band_start;     /* [M] index of band m's first weight, ascending [MelFilterbank._starts] */
    const int64_t *log2_table;     /* [257] Q16 log2(1 + i/256) [log.LOG2_TABLE] */
    int64_t db_coeff;              /* K = 12626113 [log.DB_COEFF] */
    uint32_t flags;                /* 0, or EMG_FE_FLAG_GENERIC */
} emg_fe_tables;

/* Use the portable DFT code even where a vectorised one (x86-64 AVX2+FMA) is available; the
 * outputs are identical, this only lets tests and benchmarks exercise both. No effect with
 * emg_fe_dft_int64.c. */
#define EMG_FE_FLAG_GENERIC 1u

typedef struct emg_fe_plan emg_fe_plan;

/* Validates the tables against the spec's bounds and builds the plan. *out is set on success. */
int emg_fe_plan_create(const emg_fe_tables *tables, emg_fe_plan **out);
void emg_fe_plan_free(emg_fe_plan *plan);

/* Bytes of scratch memory emg_fe_compute needs (any alignment; it aligns internally). */
size_t emg_fe_workspace_size(const emg_fe_plan *plan);

int32_t emg_fe_n_mels(const emg_fe_plan *plan);
int32_t emg_fe_frame_length(const emg_fe_plan *plan);

/* Features of n_frames frames: frame i is the L samples samples[i*frame_stride .. +L) (stride in
 * samples; hop H for a signal, L for packed frames; any value, also 0 or negative). Writes
 * out[i*n_mels + m] (int16, 1/64 dB, 0 = 0 dB floor). workspace: emg_fe_workspace_size bytes. */
void emg_fe_compute(const emg_fe_plan *plan, const int16_t *samples, ptrdiff_t frame_stride,
                    size_t n_frames, int16_t *out, void *workspace);

/* Name of the DFT code path chosen at plan creation ("avx2+fma" or "generic"; "int64" when
 * built with emg_fe_dft_int64.c), for reports. */
const char *emg_fe_isa(const emg_fe_plan *plan);

#ifdef __cplusplus
}
#endif

#endif /* EMG_FRONTEND_H */
