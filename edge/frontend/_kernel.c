/* CPython binding of the compiled front-end kernel (c/: plan, stages, float64 DFT), buffer protocol only:
 * no numpy headers, so building needs only a C compiler and the Python headers.
 *
 *     plan = Plan(L, N, k_lo, k_hi, n_mels, max_power_bits, window, cos_q26, sin_q26,
 *                 weight, weight_bin, band_start, log2_table, db_coeff, generic=False)
 *     plan.compute(samples, n_frames, hop, out)   # 1-D contiguous int16 signal, frame i at i*hop
 *     plan.compute_frames(frames, out)            # 2-D (F, L) int16, rows contiguous, any row stride
 *
 * Tables are int64 buffers (edge/frontend/pipeline.py passes the numpy reference's own tables);
 * out is a writable C-contiguous int16 buffer of at least F*n_mels items. The GIL is released
 * while the kernel runs; a per-plan lock guards the plan's workspace.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <pythread.h>

#include "emg_frontend.h"

typedef struct {
    PyObject_HEAD
    emg_fe_plan *plan;
    void *work;
    PyThread_type_lock lock;
} PlanObject;

/* An int64 table of exactly n items (n < 0: any length, stored in *len). */
static int get_i64(PyObject *obj, Py_buffer *view, Py_ssize_t n, const char *name) {
    if (PyObject_GetBuffer(obj, view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) return -1;
    const char *f = view->format ? view->format : "B";
    if (*f == '<' || *f == '=' || *f == '@') f++;
    if (view->itemsize != 8 || (strcmp(f, "q") != 0 && strcmp(f, "l") != 0)) {
        PyErr_Format(PyExc_ValueError, "%s must be an int64 buffer", name);
        PyBuffer_Release(view);
        return -1;
    }
    if (n >= 0 && view->len / 8 != n) {
        PyErr_Format(PyExc_ValueError, "%s has %zd items, expected %zd", name, view->len / 8, n);
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

static int check_i16(Py_buffer *v, const char *name) {
    const char *f = v->format ? v->format : "B";
    if (*f == '<' || *f == '=' || *f == '@') f++;
    if (v->itemsize != 2 || strcmp(f, "h") != 0) {
        PyErr_Format(PyExc_ValueError, "%s must be an int16 buffer", name);
        return -1;
    }
    return 0;
}

static void Plan_dealloc(PlanObject *self) {
    emg_fe_plan_free(self->plan);
    PyMem_Free(self->work);
    if (self->lock) PyThread_free_lock(self->lock);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *Plan_new(PyTypeObject *type, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"frame_length", "fft_size", "k_lo", "k_hi", "n_mels", "max_power_bits",
                             "window", "cos_q26", "sin_q26", "weight", "weight_bin", "band_start",
                             "log2_table", "db_coeff", "generic", NULL};
    int L, N, k_lo, k_hi, M, mpb, generic = 0;
    long long db;
    PyObject *o[7];
    Py_buffer v[7];
    int got = 0, rc;
    emg_fe_tables t;
    PlanObject *self;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "iiiiiiOOOOOOOL|p", kwlist, &L, &N, &k_lo, &k_hi, &M, &mpb,
                                     &o[0], &o[1], &o[2], &o[3], &o[4], &o[5], &o[6], &db, &generic))
        return NULL;
    {
        const Py_ssize_t want[7] = {L, N, N, -1, -1, M, 257};
        const char *names[7] = {"window", "cos_q26", "sin_q26", "weight", "weight_bin", "band_start", "log2_table"};
        for (; got < 7; got++)
            if (get_i64(o[got], &v[got], want[got], names[got]) < 0) goto fail;
    }
    if (v[3].len != v[4].len || v[3].len / 8 > INT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "weight and weight_bin must have the same length");
        goto fail;
    }
    memset(&t, 0, sizeof t);
    t.frame_length = L; t.fft_size = N; t.k_lo = k_lo; t.k_hi = k_hi; t.n_mels = M; t.max_power_bits = mpb;
    t.window = v[0].buf; t.cos_q26 = v[1].buf; t.sin_q26 = v[2].buf;
    t.n_weights = (int32_t)(v[3].len / 8); t.weight = v[3].buf; t.weight_bin = v[4].buf;
    t.band_start = v[5].buf; t.log2_table = v[6].buf; t.db_coeff = (int64_t)db;
    t.flags = generic ? EMG_FE_FLAG_GENERIC : 0;
    self = (PlanObject *)type->tp_alloc(type, 0);
    if (!self) goto fail;
    rc = emg_fe_plan_create(&t, &self->plan);
    for (int i = 0; i < got; i++) PyBuffer_Release(&v[i]);
    got = 0;
    if (rc != EMG_FE_OK) {
        Py_DECREF(self);
        if (rc == EMG_FE_ENOMEM) return PyErr_NoMemory();
        PyErr_SetString(PyExc_ValueError, "front-end tables outside the bounds of edge/FRONTEND.md");
        return NULL;
    }
    self->work = PyMem_Malloc(emg_fe_workspace_size(self->plan));
    self->lock = PyThread_allocate_lock();
    if (!self->work || !self->lock) {
        Py_DECREF(self);
        return PyErr_NoMemory();
    }
    return (PyObject *)self;
fail:
    for (int i = 0; i < got; i++) PyBuffer_Release(&v[i]);
    return NULL;
}

static int get_out(PyObject *obj, Py_buffer *out, Py_ssize_t n_items) {
    if (PyObject_GetBuffer(obj, out, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | PyBUF_WRITABLE) < 0) return -1;
    if (check_i16(out, "out") < 0 || out->len / 2 < n_items) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "out is too small for n_frames x n_mels");
        PyBuffer_Release(out);
        return -1;
    }
    return 0;
}

/* The shared tail of compute and compute_frames: n frames of x (frame i at x + i*stride) into
 * the buffer `oo`, with the GIL released. Releases `in` (the validated input view) either way. */
static PyObject *compute_into(PlanObject *self, Py_buffer *in, const int16_t *x, Py_ssize_t stride,
                              Py_ssize_t n, PyObject *oo) {
    Py_buffer out;
    PyObject *result = NULL;
    if (get_out(oo, &out, n * emg_fe_n_mels(self->plan)) == 0) {
        Py_BEGIN_ALLOW_THREADS
        PyThread_acquire_lock(self->lock, WAIT_LOCK);
        emg_fe_compute(self->plan, x, (ptrdiff_t)stride, (size_t)n, (int16_t *)out.buf, self->work);
        PyThread_release_lock(self->lock);
        Py_END_ALLOW_THREADS
        PyBuffer_Release(&out);
        Py_INCREF(Py_None);
        result = Py_None;
    }
    PyBuffer_Release(in);
    return result;
}

PyDoc_STRVAR(compute_doc,
"compute(samples, n_frames, hop, out)\n\n"
"Features of frames i = 0..n_frames-1, frame i = samples[i*hop : i*hop + L] of a 1-D C-contiguous\n"
"int16 buffer, into out (writable C-contiguous int16, >= n_frames*n_mels items, row-major).");

static PyObject *Plan_compute(PlanObject *self, PyObject *args) {
    PyObject *so, *oo;
    Py_ssize_t n, hop;
    Py_buffer in;
    const Py_ssize_t L = emg_fe_frame_length(self->plan), M = emg_fe_n_mels(self->plan);
    if (!PyArg_ParseTuple(args, "OnnO", &so, &n, &hop, &oo)) return NULL;
    if (n < 0 || hop < 1) {
        PyErr_SetString(PyExc_ValueError, "n_frames must be >= 0 and hop >= 1");
        return NULL;
    }
    if (PyObject_GetBuffer(so, &in, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) return NULL;
    if (check_i16(&in, "samples") < 0) goto fail_in;
    if (n > 0 && ((n - 1) > (PY_SSIZE_T_MAX - L) / hop || (n - 1) * hop + L > in.len / 2)) {
        PyErr_SetString(PyExc_ValueError, "samples is shorter than (n_frames - 1)*hop + frame_length");
        goto fail_in;
    }
    if (n > PY_SSIZE_T_MAX / (M > 0 ? M : 1)) {
        PyErr_SetString(PyExc_ValueError, "n_frames too large");
        goto fail_in;
    }
    return compute_into(self, &in, (const int16_t *)in.buf, hop, n, oo);
fail_in:
    PyBuffer_Release(&in);
    return NULL;
}

PyDoc_STRVAR(compute_frames_doc,
"compute_frames(frames, out)\n\n"
"Features of a 2-D (F, L) int16 buffer whose rows are contiguous (any row stride, e.g. a strided\n"
"view of a signal) into out (writable C-contiguous int16, >= F*n_mels items).");

static PyObject *Plan_compute_frames(PlanObject *self, PyObject *args) {
    PyObject *fo, *oo;
    Py_buffer in;
    const Py_ssize_t L = emg_fe_frame_length(self->plan);
    if (!PyArg_ParseTuple(args, "OO", &fo, &oo)) return NULL;
    if (PyObject_GetBuffer(fo, &in, PyBUF_STRIDES | PyBUF_FORMAT) < 0) return NULL;
    if (check_i16(&in, "frames") < 0) goto fail_in;
    if (in.ndim != 2 || in.shape[1] != L || in.strides[1] != 2 || in.strides[0] % 2 != 0) {
        PyErr_Format(PyExc_ValueError, "frames must be 2-D (F, %zd) int16 with contiguous rows", L);
        goto fail_in;
    }
    return compute_into(self, &in, (const int16_t *)in.buf, in.strides[0] / 2, in.shape[0], oo);
fail_in:
    PyBuffer_Release(&in);
    return NULL;
}

static PyObject *Plan_get_isa(PlanObject *self, void *closure) {
    (void)closure;
    return PyUnicode_FromString(emg_fe_isa(self->plan));
}

static PyMethodDef Plan_methods[] = {
    {"compute", (PyCFunction)Plan_compute, METH_VARARGS, compute_doc},
    {"compute_frames", (PyCFunction)Plan_compute_frames, METH_VARARGS, compute_frames_doc},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef Plan_getset[] = {
    {"isa", (getter)Plan_get_isa, NULL, "DFT code path in use: 'avx2+fma' or 'generic'", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject PlanType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "edge.frontend._kernel.Plan",
    .tp_basicsize = sizeof(PlanObject),
    .tp_dealloc = (destructor)Plan_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Compiled front-end plan for one config (tables from the numpy reference).",
    .tp_methods = Plan_methods,
    .tp_getset = Plan_getset,
    .tp_new = Plan_new,
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "edge.frontend._kernel",
    "Compiled integer log-Mel front-end (edge/frontend/c), bit-exact to edge/FRONTEND.md.", -1, NULL,
};

PyMODINIT_FUNC PyInit__kernel(void) {
    PyObject *m;
    if (PyType_Ready(&PlanType) < 0) return NULL;
    m = PyModule_Create(&module);
    if (!m) return NULL;
    Py_INCREF(&PlanType);
    if (PyModule_AddObject(m, "Plan", (PyObject *)&PlanType) < 0) {
        Py_DECREF(&PlanType);
        Py_DECREF(m);
        return NULL;
    }
    if (PyModule_AddStringConstant(m, "SPEC_VERSION", EMG_FE_SPEC_VERSION) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
