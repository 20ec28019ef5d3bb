/* CPython binding of the firmware C codec (c/emg_proto.c) for the host's hot path.
 *
 * Only COBS block decoding is exposed: it is the one step of frame decoding whose Python
 * form is a loop over code bytes (int16 audio carries a zero in most samples, so a
 * 441-sample SAMPLES frame has ~240 code blocks). Binding the firmware's own decoder means
 * the host and the units run the same code. The module is optional: firmware_bridge/codec/cobs.py
 * falls back to its Python decoder, and the tests hold both to the same output.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "emg_proto.h"

PyDoc_STRVAR(cobs_decode_doc,
"cobs_decode(block) -> bytes\n\n"
"Decode one COBS block (no 0x00 delimiter). Raises ValueError on an invalid block\n"
"(empty, a zero byte inside, or a code running past the end).");

static PyObject *cobs_decode(PyObject *self, PyObject *arg) {
    Py_buffer in;
    (void)self;
    if (PyObject_GetBuffer(arg, &in, PyBUF_SIMPLE) < 0) return NULL;
    /* The decoded block is never longer than its encoding. */
    PyObject *out = PyBytes_FromStringAndSize(NULL, in.len > 0 ? in.len : 0);
    if (out == NULL) {
        PyBuffer_Release(&in);
        return NULL;
    }
    long n;
    Py_BEGIN_ALLOW_THREADS
    n = emg_cobs_decode((const uint8_t *)in.buf, (size_t)in.len,
                        (uint8_t *)PyBytes_AS_STRING(out), (size_t)in.len);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&in);
    if (n < 0) {
        Py_DECREF(out);
        PyErr_SetString(PyExc_ValueError, "invalid COBS block");
        return NULL;
    }
    if (_PyBytes_Resize(&out, (Py_ssize_t)n) < 0) return NULL;
    return out;
}

static PyMethodDef methods[] = {
    {"cobs_decode", cobs_decode, METH_O, cobs_decode_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "firmware_bridge.codec._ccodec",
    "The firmware C codec's COBS decoder, bound for the host (optional accelerator).", -1, methods,
};

PyMODINIT_FUNC PyInit__ccodec(void) { return PyModule_Create(&module); }
