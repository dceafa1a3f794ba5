/* The optional compiled core of the combined/common hot path (see omphalos/speedups.py).
 *
 * clf_columns(text, mode): the value columns of a chunk of common/combined lines, exactly
 *     as the strict pattern the mode names (omphalos.speedups.CLF_MODES) splits them, or
 *     None when any line is not one this code is sure of (the regex then decides, as
 *     without this module).
 * sum_by(keys, sizes, distinct): omphalos.counting._sum_by at C speed.
 * add_dense(regs, hashes, shift, low): omphalos.lib.hll._add_dense at C speed, or False
 *     (nothing changed) when an argument is not what that function is always given.
 *
 * Every read of the text is bounds-checked against its length (AT() below); no line is
 * assumed to end, no number to be short.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

/* Py_UNICODE_ISSPACE over U+0000..U+00FF: what the regex's \s (and so \S) means there. */
static unsigned char space_table[256];
/* The status codes 100..999 as shared int objects (lines of one status share one). */
static PyObject *status_ints[1000];

#define SLOTS 1024 /* per-column table of recent values (a power of two) */

typedef struct {
    PyObject *obj;
    Py_ssize_t len;
    uint64_t hash;
} Slot;

typedef struct {
    Slot slots[SLOTS];
} Cache;

static uint64_t
slice_hash(const Py_UCS1 *p, Py_ssize_t len)
{
    uint64_t h = 0x9E3779B97F4A7C15ULL ^ (uint64_t)len;
    Py_ssize_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        h = (h ^ w) * 0xFF51AFD7ED558CCDULL;
        h ^= h >> 29;
    }
    for (; i < len; i++) {
        h = (h ^ p[i]) * 0x100000001B3ULL;
    }
    h ^= h >> 32;
    return h;
}

static PyObject *
new_str(const Py_UCS1 *p, Py_ssize_t len, int ascii)
{
    if (ascii) {
        PyObject *s = PyUnicode_New(len, 127);
        if (s == NULL) {
            return NULL;
        }
        if (len) {
            memcpy(PyUnicode_1BYTE_DATA(s), p, (size_t)len);
        }
        return s;
    }
    return PyUnicode_FromKindAndData(PyUnicode_1BYTE_KIND, p, len);
}

/* The text p[0:len] as a str: the object made for an equal earlier value of the same
 * column when the table still holds it (equal values, one object: their hash is worked
 * out once and counting them compares identities), else a new one. */
static PyObject *
cached_str(Cache *cache, const Py_UCS1 *p, Py_ssize_t len, int ascii)
{
    uint64_t h = slice_hash(p, len);
    Slot *slot = &cache->slots[h & (SLOTS - 1)];
    if (slot->obj != NULL && slot->len == len && slot->hash == h
        && memcmp(PyUnicode_DATA(slot->obj), p, (size_t)len) == 0) {
        Py_INCREF(slot->obj);
        return slot->obj;
    }
    PyObject *s = new_str(p, len, ascii);
    if (s == NULL) {
        return NULL;
    }
    Py_XDECREF(slot->obj);
    Py_INCREF(s);
    slot->obj = s;
    slot->len = len;
    slot->hash = h;
    return s;
}

static void
cache_clear(Cache *cache)
{
    for (int i = 0; i < SLOTS; i++) {
        Py_CLEAR(cache->slots[i].obj);
    }
}

/* What follows the bytes (the mode's low bits; omphalos.speedups.CLF_MODES):
 * TAIL_CLF   the family's optional ' "referer" "agent"' and optional ' trailing';
 * TAIL_PAIR  ' "referer" "agent"' and the end of the line (Apache's and nginx's combined);
 * TAIL_NONE  the end of the line (common).
 * DASH_IDENT: the ident is the literal "-" (nginx's "$remote_addr - $remote_user"). */
enum { TAIL_CLF = 0, TAIL_PAIR = 1, TAIL_NONE = 2, TAIL_MASK = 3, DASH_IDENT = 4 };

/* The groups of the strict pattern (omphalos.speedups.CLF_MODES), in its order. */
enum { G_CLIENT, G_USER, G_TIME, G_METHOD, G_PATH, G_QUERY, G_PROTOCOL, G_STATUS,
       G_BYTES, G_REFERER, G_AGENT, G_TRAILING, NGROUPS };

/* The character at k, or -1 past the end: every read goes through this. */
#define AT(k) ((k) < n ? (int)d[(k)] : -1)
#define IS_DIGIT(c) ((c) >= '0' && (c) <= '9')
/* \S: any character but whitespace (and not past the end). */
#define IS_WORD(c) ((c) >= 0 && !space_table[(c)])

/* One line at d[i:] against the strict pattern; on success the group bounds (start -1:
 * the group took no part) and the offset after the line's newline, else 0. A line whose
 * fields would run over its end (a time, referer or agent holding a newline) is refused:
 * the regex would read on into the next line, and the chunk is then not for this code. */
static int
match_line(const Py_UCS1 *d, Py_ssize_t n, Py_ssize_t i, Py_ssize_t g[NGROUPS][2],
           Py_ssize_t *next, int mode)
{
    const int tail = mode & TAIL_MASK;
    Py_ssize_t s;
    int c;
    /* (\S++) client */
    s = i;
    while (IS_WORD(AT(i))) i++;
    if (i == s || AT(i) != ' ') return 0;
    g[G_CLIENT][0] = s; g[G_CLIENT][1] = i;
    i++;
    /* (?:\S++) ident, or \- */
    if (mode & DASH_IDENT) {
        if (AT(i) != '-' || AT(i + 1) != ' ') return 0;
        i += 2;
    }
    else {
        s = i;
        while (IS_WORD(AT(i))) i++;
        if (i == s || AT(i) != ' ') return 0;
        i++;
    }
    /* (\S++) user, then " [" */
    s = i;
    while (IS_WORD(AT(i))) i++;
    if (i == s || AT(i) != ' ' || AT(i + 1) != '[') return 0;
    g[G_USER][0] = s; g[G_USER][1] = i;
    i += 2;
    /* ([^\]]{1,64}+) time, then '] "' */
    s = i;
    while (i - s < 64 && (c = AT(i)) >= 0 && c != ']') {
        if (c == '\n') return 0;
        i++;
    }
    if (i == s || AT(i) != ']' || AT(i + 1) != ' ' || AT(i + 2) != '"') return 0;
    g[G_TIME][0] = s; g[G_TIME][1] = i;
    i += 3;
    /* ([A-Z]++) method, then " " */
    s = i;
    while ((c = AT(i)) >= 'A' && c <= 'Z') i++;
    if (i == s || AT(i) != ' ') return 0;
    g[G_METHOD][0] = s; g[G_METHOD][1] = i;
    i++;
    /* ([^\s?"]*+) path, \?? */
    s = i;
    while (IS_WORD(c = AT(i)) && c != '?' && c != '"') i++;
    g[G_PATH][0] = s; g[G_PATH][1] = i;
    if (AT(i) == '?') i++;
    /* ([^\s"]*+) query, then " " */
    s = i;
    while (IS_WORD(c = AT(i)) && c != '"') i++;
    if (AT(i) != ' ') return 0;
    g[G_QUERY][0] = s; g[G_QUERY][1] = i;
    i++;
    /* (HTTP/[0-9.]++) protocol, then '" ' */
    s = i;
    if (AT(i) != 'H' || AT(i + 1) != 'T' || AT(i + 2) != 'T' || AT(i + 3) != 'P'
        || AT(i + 4) != '/') return 0;
    i += 5;
    if (!(IS_DIGIT(c = AT(i)) || c == '.')) return 0;
    while (IS_DIGIT(c = AT(i)) || c == '.') i++;
    if (AT(i) != '"' || AT(i + 1) != ' ') return 0;
    g[G_PROTOCOL][0] = s; g[G_PROTOCOL][1] = i;
    i += 2;
    /* (\d{3}) status, then " " (\d is [0-9] below U+0100) */
    if (!IS_DIGIT(AT(i)) || !IS_DIGIT(AT(i + 1)) || !IS_DIGIT(AT(i + 2))
        || AT(i + 3) != ' ') return 0;
    g[G_STATUS][0] = i; g[G_STATUS][1] = i + 3;
    i += 4;
    /* (\d++|-) bytes */
    s = i;
    while (IS_DIGIT(AT(i))) i++;
    if (i == s) {
        if (AT(i) != '-') return 0;
        i++;
    }
    g[G_BYTES][0] = s; g[G_BYTES][1] = i;
    /* (?: "([^"]*+)" "([^"]*+)"(?: ([^\n]++))?)? then \n: the tail first (greedy) */
    g[G_REFERER][0] = g[G_AGENT][0] = g[G_TRAILING][0] = -1;
    g[G_REFERER][1] = g[G_AGENT][1] = g[G_TRAILING][1] = -1;
    if (tail == TAIL_NONE || (tail == TAIL_CLF && AT(i) == '\n')) {
        /* no tail (in the family's, the tail's first character is a space) */
        if (AT(i) != '\n') return 0;
        *next = i + 1;
        return 1;
    }
    if (AT(i) != ' ' || AT(i + 1) != '"') return 0;
    i += 2;
    s = i;
    while ((c = AT(i)) >= 0 && c != '"') {
        if (c == '\n') return 0;
        i++;
    }
    if (AT(i) != '"' || AT(i + 1) != ' ' || AT(i + 2) != '"') return 0;
    g[G_REFERER][0] = s; g[G_REFERER][1] = i;
    i += 3;
    s = i;
    while ((c = AT(i)) >= 0 && c != '"') {
        if (c == '\n') return 0;
        i++;
    }
    if (AT(i) != '"') return 0;
    g[G_AGENT][0] = s; g[G_AGENT][1] = i;
    i++;
    if (tail == TAIL_CLF && AT(i) == ' ' && (c = AT(i + 1)) >= 0 && c != '\n') {
        /* ( [^\n]++)? */
        i++;
        s = i;
        while ((c = AT(i)) >= 0 && c != '\n') i++;
        g[G_TRAILING][0] = s; g[G_TRAILING][1] = i;
    }
    /* anything else than the newline now: the line fails (in the family's, without
     * the tail the bytes would have to be followed by a newline, not a space) */
    if (AT(i) != '\n') return 0;
    *next = i + 1;
    return 1;
}

static PyObject *
status_int(const Py_UCS1 *p)
{
    int value = (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
    PyObject *obj = status_ints[value];
    if (obj == NULL) {
        obj = status_ints[value] = PyLong_FromLong(value);
        if (obj == NULL) {
            return NULL;
        }
    }
    Py_INCREF(obj);
    return obj;
}

/* "-" is 0, up to 18 digits an int, more the text (int() then decides, with its limit on
 * digits): the values omphalos.lib.parsers.convert.ints makes of them. */
static PyObject *
bytes_value(const Py_UCS1 *p, Py_ssize_t len, int ascii)
{
    if (len == 1 && p[0] == '-') {
        return PyLong_FromLong(0);
    }
    if (len > 18) {
        return new_str(p, len, ascii);
    }
    long long value = 0;
    for (Py_ssize_t k = 0; k < len; k++) {
        value = value * 10 + (p[k] - '0');
    }
    return PyLong_FromLongLong(value);
}

static PyObject *
clf_columns(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2 || !PyUnicode_Check(args[0]) || !PyLong_CheckExact(args[1])) {
        PyErr_SetString(PyExc_TypeError, "clf_columns() takes a str and a mode");
        return NULL;
    }
    PyObject *text = args[0];
    const long mode = PyLong_AsLong(args[1]);
    if (mode < 0 || mode > (TAIL_MASK | DASH_IDENT) || (mode & TAIL_MASK) == TAIL_MASK) {
        PyErr_SetString(PyExc_ValueError, "clf_columns(): no such mode");
        return NULL;
    }
    /* the columns of the mode's pattern: the family's 12, combined's 11, common's 9 */
    const int ncols = (mode & TAIL_MASK) == TAIL_CLF ? NGROUPS
                      : (mode & TAIL_MASK) == TAIL_PAIR ? G_TRAILING : G_REFERER;
#if PY_VERSION_HEX < 0x030C0000
    if (PyUnicode_READY(text) < 0) {  /* a legacy string (ready by itself since 3.12) */
        return NULL;
    }
#endif
    if (PyUnicode_KIND(text) != PyUnicode_1BYTE_KIND) {
        Py_RETURN_NONE;  /* characters past U+00FF: the regex reads it */
    }
    const Py_UCS1 *d = PyUnicode_1BYTE_DATA(text);
    const Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    const int ascii = PyUnicode_IS_ASCII(text);
    if (n == 0 || d[n - 1] != '\n') {
        Py_RETURN_NONE;
    }
    Py_ssize_t lines = 0;
    for (const Py_UCS1 *p = d, *end = d + n;
         (p = memchr(p, '\n', (size_t)(end - p))) != NULL; p++) {
        lines++;
    }
    PyObject *columns[NGROUPS] = {NULL};
    Cache *caches = PyMem_Calloc(NGROUPS, sizeof(Cache));
    PyObject *result = NULL;
    if (caches == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    for (int k = 0; k < ncols; k++) {
        if ((columns[k] = PyList_New(lines)) == NULL) {
            goto done;
        }
    }
    Py_ssize_t g[NGROUPS][2];
    Py_ssize_t i = 0, next = 0;
    for (Py_ssize_t line = 0; line < lines; line++) {
        if (i >= n || !match_line(d, n, i, g, &next, (int)mode)) {
            result = Py_None;
            Py_INCREF(result);
            goto done;
        }
        for (int k = 0; k < ncols; k++) {
            PyObject *value;
            Py_ssize_t a = g[k][0], b = g[k][1];
            if (a < 0) {
                value = Py_None;
                Py_INCREF(value);
            }
            else if (k == G_STATUS) {
                value = status_int(d + a);
            }
            else if (k == G_BYTES) {
                value = bytes_value(d + a, b - a, ascii);
            }
            else {
                value = cached_str(&caches[k], d + a, b - a, ascii);
            }
            if (value == NULL) {
                goto done;
            }
            PyList_SET_ITEM(columns[k], line, value);
        }
        i = next;
    }
    if (i != n) {  /* cannot happen: as many lines matched as there are newlines */
        result = Py_None;
        Py_INCREF(result);
        goto done;
    }
    result = PyList_New(ncols);
    if (result == NULL) {
        goto done;
    }
    for (int k = 0; k < ncols; k++) {
        PyList_SET_ITEM(result, k, columns[k]);
        columns[k] = NULL;
    }
done:
    for (int k = 0; k < NGROUPS; k++) {
        Py_XDECREF(columns[k]);
    }
    for (int k = 0; k < NGROUPS; k++) {
        cache_clear(&caches[k]);
    }
    PyMem_Free(caches);
    return result;
}

static PyObject *
sum_by(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "sum_by() takes keys, sizes, distinct");
        return NULL;
    }
    PyObject *zero = PyLong_FromLong(0);
    PyObject *out = NULL, *keys = NULL, *sizes = NULL, *distinct = NULL;
    PyObject *key = NULL, *size = NULL;
    if (zero == NULL || (out = PyDict_New()) == NULL
        || (distinct = PyObject_GetIter(args[2])) == NULL) {
        goto fail;
    }
    while ((key = PyIter_Next(distinct)) != NULL) {
        if (PyDict_SetItem(out, key, zero) < 0) {
            goto fail;
        }
        Py_CLEAR(key);
    }
    if (PyErr_Occurred()) {
        goto fail;
    }
    if ((keys = PyObject_GetIter(args[0])) == NULL
        || (sizes = PyObject_GetIter(args[1])) == NULL) {
        goto fail;
    }
    /* zip(keys, sizes): a key, then its size; the shorter one ends it */
    while ((key = PyIter_Next(keys)) != NULL) {
        if ((size = PyIter_Next(sizes)) == NULL) {
            break;
        }
        PyObject *have = PyDict_GetItemWithError(out, key);  /* borrowed */
        if (have == NULL) {
            if (!PyErr_Occurred()) {  /* KeyError(key), as out[key] raises it */
                PyObject *arg = PyTuple_Pack(1, key);
                if (arg != NULL) {
                    PyErr_SetObject(PyExc_KeyError, arg);
                    Py_DECREF(arg);
                }
            }
            goto fail;
        }
        PyObject *sum = PyNumber_InPlaceAdd(have, size);
        if (sum == NULL) {
            goto fail;
        }
        int failed = PyDict_SetItem(out, key, sum);
        Py_DECREF(sum);
        if (failed < 0) {
            goto fail;
        }
        Py_CLEAR(key);
        Py_CLEAR(size);
    }
    Py_CLEAR(key);
    if (PyErr_Occurred()) {
        goto fail;
    }
    Py_DECREF(zero);
    Py_DECREF(keys);
    Py_DECREF(sizes);
    Py_DECREF(distinct);
    return out;
fail:
    Py_XDECREF(zero);
    Py_XDECREF(out);
    Py_XDECREF(keys);
    Py_XDECREF(sizes);
    Py_XDECREF(distinct);
    Py_XDECREF(key);
    Py_XDECREF(size);
    return NULL;
}

static PyObject *
add_dense(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 4) {
        PyErr_SetString(PyExc_TypeError, "add_dense() takes regs, hashes, shift, low");
        return NULL;
    }
    PyObject *regs = args[0], *hashes = args[1];
    if (!PyByteArray_CheckExact(regs) || !PyList_CheckExact(hashes)
        || !PyLong_CheckExact(args[2]) || !PyLong_CheckExact(args[3])) {
        Py_RETURN_FALSE;
    }
    long shift = PyLong_AsLong(args[2]);
    if (shift == -1 && PyErr_Occurred()) {
        PyErr_Clear();
        Py_RETURN_FALSE;
    }
    /* precision 4..18: shift 46..60, 2 ** precision registers, low = 2 ** shift - 1 */
    if (shift < 46 || shift > 60 || PyByteArray_GET_SIZE(regs) != ((Py_ssize_t)1 << (64 - shift))) {
        Py_RETURN_FALSE;
    }
    unsigned long long low = PyLong_AsUnsignedLongLong(args[3]);
    if (PyErr_Occurred()) {
        PyErr_Clear();
        Py_RETURN_FALSE;
    }
    if (low != (1ULL << shift) - 1) {
        Py_RETURN_FALSE;
    }
    Py_ssize_t count = PyList_GET_SIZE(hashes);
    uint64_t *values = PyMem_Malloc((size_t)(count ? count : 1) * sizeof(uint64_t));
    if (values == NULL) {
        return PyErr_NoMemory();
    }
    /* every hash read first: one that is no 64-bit unsigned int leaves the registers as
     * they were, for the Python loop to do what it does with it */
    for (Py_ssize_t k = 0; k < count; k++) {
        PyObject *h = PyList_GET_ITEM(hashes, k);
        if (!PyLong_CheckExact(h)) {
            PyMem_Free(values);
            Py_RETURN_FALSE;
        }
        values[k] = PyLong_AsUnsignedLongLong(h);
        if (values[k] == (unsigned long long)-1 && PyErr_Occurred()) {
            PyErr_Clear();
            PyMem_Free(values);
            Py_RETURN_FALSE;
        }
    }
    unsigned char *r = (unsigned char *)PyByteArray_AS_STRING(regs);
    for (Py_ssize_t k = 0; k < count; k++) {
        uint64_t h = values[k];
        uint64_t index = h >> shift;
        uint64_t rest = h & low;
        int bits = 0;
        while (rest) {
            bits++;
            rest >>= 1;
        }
        int rank = (int)shift - bits + 1;
        if (rank > r[index]) {
            r[index] = (unsigned char)rank;
        }
    }
    PyMem_Free(values);
    Py_RETURN_TRUE;
}

static PyMethodDef methods[] = {
    {"clf_columns", (PyCFunction)(void (*)(void))clf_columns, METH_FASTCALL,
     "The value columns of complete common/combined lines (status and bytes as ints) in "
     "the pattern of mode, or None when a line is not one this code is sure of."},
    {"sum_by", (PyCFunction)(void (*)(void))sum_by, METH_FASTCALL,
     "dict.fromkeys(distinct, 0), then out[key] += size for each (key, size) of "
     "zip(keys, sizes)."},
    {"add_dense", (PyCFunction)(void (*)(void))add_dense, METH_FASTCALL,
     "Raise dense HyperLogLog registers to the ranks of hashes; False (nothing done) when "
     "an argument is not of the usual kind."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "omphalos._speedups",
    "The optional compiled core of the combined/common hot path (omphalos.speedups).",
    -1, methods,
};

PyMODINIT_FUNC
PyInit__speedups(void)
{
    for (int c = 0; c < 256; c++) {
        space_table[c] = Py_UNICODE_ISSPACE((Py_UCS4)c) ? 1 : 0;
    }
    return PyModule_Create(&module_def);
}
