/* The opcode loop of the restricted pickle interpreter. Opcode semantics
 * mirror CPython's Lib/pickle.py (_Unpickler.load_*); text-mode opcodes of
 * protocols 0/1 (INT, STRING, PUT, GET, ...) are not accepted: torch.save
 * writes protocol 2 and nothing here needs them. */
#include <string.h>

#include "formats/pickle.h"
#include "formats/strmap.h"
#include "core/vec.h"
#include "nemoc/alloc.h"

enum {
    OP_MARK = '(', OP_STOP = '.', OP_POP = '0', OP_POP_MARK = '1', OP_DUP = '2',
    OP_BININT = 'J', OP_BININT1 = 'K', OP_BININT2 = 'M', OP_NONE = 'N', OP_BINPERSID = 'Q',
    OP_REDUCE = 'R', OP_BINSTRING = 'T', OP_SHORT_BINSTRING = 'U', OP_BINUNICODE = 'X',
    OP_APPEND = 'a', OP_BUILD = 'b', OP_GLOBAL = 'c', OP_DICT = 'd', OP_EMPTY_DICT = '}',
    OP_APPENDS = 'e', OP_BINGET = 'h', OP_LONG_BINGET = 'j', OP_LIST = 'l', OP_EMPTY_LIST = ']',
    OP_BINPUT = 'q', OP_LONG_BINPUT = 'r', OP_SETITEM = 's', OP_TUPLE = 't', OP_EMPTY_TUPLE = ')',
    OP_SETITEMS = 'u', OP_BINFLOAT = 'G', OP_BINBYTES = 'B', OP_SHORT_BINBYTES = 'C',
    OP_PROTO = 0x80, OP_NEWOBJ = 0x81, OP_TUPLE1 = 0x85, OP_TUPLE2 = 0x86, OP_TUPLE3 = 0x87,
    OP_NEWTRUE = 0x88, OP_NEWFALSE = 0x89, OP_LONG1 = 0x8a, OP_LONG4 = 0x8b,
    OP_SHORT_BINUNICODE = 0x8c, OP_BINUNICODE8 = 0x8d, OP_BINBYTES8 = 0x8e, OP_EMPTY_SET = 0x8f,
    OP_ADDITEMS = 0x90, OP_FROZENSET = 0x91, OP_NEWOBJ_EX = 0x92, OP_STACK_GLOBAL = 0x93,
    OP_MEMOIZE = 0x94, OP_FRAME = 0x95,
};

/* Longest module or qualified name accepted by GLOBAL. */
#define MAX_GLOBAL_NAME 256

static nc_status need(pk_vm *vm, uint64_t n) {
    if ((uint64_t)(vm->end - vm->p) < n)
        return pk_fail(vm, NC_ERR_FORMAT, "truncated: opcode 0x%02x needs %llu more bytes, %lld left",
                       vm->start[vm->op_off], (unsigned long long)n, (long long)(vm->end - vm->p));
    return NC_OK;
}

static uint64_t rd_le(pk_vm *vm, int n) {
    uint64_t v = 0;
    for (int i = 0; i < n; i++) v |= (uint64_t)vm->p[i] << (8 * i);
    vm->p += n;
    return v;
}

static nc_status push(pk_vm *vm, pk_obj *o) {
    if (!o) return pk_fail(vm, NC_ERR_OOM, "out of memory");
    if (nc_vec_reserve(&vm->stack, &vm->stack_cap, vm->sp + 1, sizeof *vm->stack))
        return pk_fail(vm, NC_ERR_OOM, "stack of %lld entries", (long long)(vm->sp + 1));
    vm->stack[vm->sp++] = o;
    return NC_OK;
}

/* Items above the innermost MARK. */
static int64_t avail(const pk_vm *vm) { return vm->sp - (vm->n_marks ? vm->marks[vm->n_marks - 1] : 0); }

static nc_status pop(pk_vm *vm, pk_obj **o) {
    if (avail(vm) < 1) return pk_fail(vm, NC_ERR_FORMAT, "stack underflow");
    *o = vm->stack[--vm->sp];
    return NC_OK;
}

static nc_status top(pk_vm *vm, pk_obj **o) {
    if (avail(vm) < 1) return pk_fail(vm, NC_ERR_FORMAT, "stack underflow");
    *o = vm->stack[vm->sp - 1];
    return NC_OK;
}

static nc_status push_mark(pk_vm *vm) {
    if (nc_vec_reserve(&vm->marks, &vm->marks_cap, vm->n_marks + 1, sizeof *vm->marks))
        return pk_fail(vm, NC_ERR_OOM, "mark stack");
    vm->marks[vm->n_marks++] = vm->sp;
    return NC_OK;
}

/* Pops back to the innermost MARK; the items stay readable at *items until
 * the next push. */
static nc_status pop_mark(pk_vm *vm, pk_obj ***items, int64_t *n) {
    if (!vm->n_marks) return pk_fail(vm, NC_ERR_FORMAT, "no MARK on the stack");
    int64_t at = vm->marks[--vm->n_marks];
    *items = vm->stack ? vm->stack + at : NULL; /* MARK on an empty, never-grown stack */
    *n = vm->sp - at;
    vm->sp = at;
    return NC_OK;
}

static nc_status memo_put(pk_vm *vm, uint64_t idx) {
    pk_obj *o;
    nc_status st = top(vm, &o);
    if (st) return st;
    /* Picklers number memo entries 0, 1, 2, ...; each BINPUT costs at least
     * two bytes, so an index beyond the pickle's length is forged and would
     * only make us allocate a huge table. */
    if (idx > (uint64_t)(vm->end - vm->start) + 256)
        return pk_fail(vm, NC_ERR_FORMAT, "memo index %llu is impossible in a %lld-byte pickle",
                       (unsigned long long)idx, (long long)(vm->end - vm->start));
    if ((int64_t)idx >= vm->memo_cap) {
        int64_t ncap = vm->memo_cap ? vm->memo_cap : 256;
        while (ncap <= (int64_t)idx) ncap *= 2;
        pk_obj **nm = nc_calloc((size_t)ncap, sizeof *nm);
        if (!nm) return pk_fail(vm, NC_ERR_OOM, "memo of %lld entries", (long long)ncap);
        if (vm->memo_cap) memcpy(nm, vm->memo, (size_t)vm->memo_cap * sizeof *nm);
        nc_free(vm->memo);
        vm->memo = nm;
        vm->memo_cap = ncap;
    }
    if (!vm->memo[idx]) vm->memo_count++;
    vm->memo[idx] = o;
    return NC_OK;
}

static nc_status memo_get(pk_vm *vm, uint64_t idx) {
    if (idx >= (uint64_t)vm->memo_cap || !vm->memo[idx])
        return pk_fail(vm, NC_ERR_FORMAT, "memo entry %llu was never stored", (unsigned long long)idx);
    return push(vm, vm->memo[idx]);
}

/* Two's-complement little-endian integer of n bytes (LONG1/LONG4). */
static nc_status push_long(pk_vm *vm, uint64_t n) {
    nc_status st = need(vm, n);
    if (st) return st;
    const unsigned char *b = vm->p;
    vm->p += n;
    /* Bytes beyond the 8th must only repeat the sign. */
    unsigned char ext = (n && (b[n - 1] & 0x80)) ? 0xff : 0;
    for (uint64_t i = 8; i < n; i++)
        if (b[i] != ext) return pk_fail(vm, NC_ERR_UNSUPPORTED, "integer of %llu bytes does not fit 64 bits", (unsigned long long)n);
    if (n > 8 && ((b[7] & 0x80) ? 0xff : 0) != ext)
        return pk_fail(vm, NC_ERR_UNSUPPORTED, "integer of %llu bytes does not fit 64 bits", (unsigned long long)n);
    uint64_t v = ext ? ~(uint64_t)0 : 0;
    for (uint64_t i = 0; i < n && i < 8; i++) {
        v &= ~((uint64_t)0xff << (8 * i));
        v |= (uint64_t)b[i] << (8 * i);
    }
    pk_obj *o = pk_new(vm, PK_INT);
    if (o) o->u.i = (int64_t)v;
    return push(vm, o);
}

static nc_status push_str(pk_vm *vm, pk_kind kind, int len_bytes) {
    nc_status st = need(vm, (uint64_t)len_bytes);
    if (st) return st;
    uint64_t n = rd_le(vm, len_bytes);
    if (len_bytes == 4 && kind == PK_STR && vm->start[vm->op_off] == OP_BINSTRING && (n >> 31))
        return pk_fail(vm, NC_ERR_FORMAT, "negative string length");
    st = need(vm, n);
    if (st) return st;
    pk_obj *o = pk_new_str(vm, kind, vm->p, (int64_t)n);
    vm->p += n;
    return push(vm, o);
}

static nc_status read_line(pk_vm *vm, char *buf, const char *what) {
    const unsigned char *nl = memchr(vm->p, '\n', (size_t)(vm->end - vm->p));
    if (!nl) return pk_fail(vm, NC_ERR_FORMAT, "GLOBAL %s is not newline-terminated", what);
    size_t n = (size_t)(nl - vm->p);
    if (n == 0 || n >= MAX_GLOBAL_NAME)
        return pk_fail(vm, NC_ERR_FORMAT, "GLOBAL %s has length %zu", what, n);
    for (size_t i = 0; i < n; i++)
        if (vm->p[i] < 0x20 || vm->p[i] >= 0x7f)
            return pk_fail(vm, NC_ERR_FORMAT, "GLOBAL %s has a non-printable byte", what);
    memcpy(buf, vm->p, n);
    buf[n] = 0;
    vm->p = nl + 1;
    return NC_OK;
}

static nc_status op_global(pk_vm *vm) {
    char mod[MAX_GLOBAL_NAME], name[MAX_GLOBAL_NAME];
    nc_status st = read_line(vm, mod, "module");
    if (!st) st = read_line(vm, name, "name");
    pk_obj *g = NULL;
    if (!st) st = pk_find_global(vm, mod, name, &g);
    return st ? st : push(vm, g);
}

static nc_status op_stack_global(pk_vm *vm) {
    pk_obj *name, *mod;
    nc_status st = pop(vm, &name);
    if (!st) st = pop(vm, &mod);
    if (st) return st;
    if (name->kind != PK_STR || mod->kind != PK_STR)
        return pk_fail(vm, NC_ERR_FORMAT, "STACK_GLOBAL needs two str, got %s and %s", pk_kind_name(mod),
                       pk_kind_name(name));
    if ((int64_t)strlen(mod->u.str.s) != mod->u.str.len || (int64_t)strlen(name->u.str.s) != name->u.str.len)
        return pk_fail(vm, NC_ERR_FORMAT, "STACK_GLOBAL name contains NUL");
    pk_obj *g = NULL;
    st = pk_find_global(vm, mod->u.str.s, name->u.str.s, &g);
    return st ? st : push(vm, g);
}

static nc_status op_tuple_n(pk_vm *vm, int64_t n) {
    if (avail(vm) < n) return pk_fail(vm, NC_ERR_FORMAT, "stack underflow building a %lld-tuple", (long long)n);
    vm->sp -= n;
    return push(vm, pk_new_seq(vm, PK_TUPLE, vm->stack + vm->sp, n));
}

static nc_status op_from_mark(pk_vm *vm, pk_kind kind) {
    pk_obj **items = NULL;
    int64_t n = 0;
    nc_status st = pop_mark(vm, &items, &n);
    if (st) return st;
    if (kind != PK_DICT) return push(vm, pk_new_seq(vm, kind, items, n));
    if (n % 2) return pk_fail(vm, NC_ERR_FORMAT, "DICT with an odd number (%lld) of items", (long long)n);
    pk_obj *d = pk_new(vm, PK_DICT);
    if (!d) return pk_fail(vm, NC_ERR_OOM, "dict");
    /* Copy first: the items live in the stack region that push() reuses. */
    for (int64_t i = 0; i < n && !st; i += 2) st = pk_dict_set(vm, d, items[i], items[i + 1]);
    return st ? st : push(vm, d);
}

/* APPEND(S)/ADDITEMS into a list, SETITEM(S) into a dict. Objects of refused
 * globals (allow_unknown_globals) silently absorb the items. */
static nc_status add_items(pk_vm *vm, pk_obj **items, int64_t n, bool pairs) {
    pk_obj *target;
    nc_status st = top(vm, &target);
    if (st) return st;
    if (target->kind == PK_OPAQUE) return NC_OK;
    if (pairs) {
        if (target->kind != PK_DICT) return pk_fail(vm, NC_ERR_FORMAT, "SETITEM(S) on a %s", pk_kind_name(target));
        if (n % 2) return pk_fail(vm, NC_ERR_FORMAT, "SETITEMS with an odd number (%lld) of items", (long long)n);
        for (int64_t i = 0; i < n && !st; i += 2) st = pk_dict_set(vm, target, items[i], items[i + 1]);
        return st;
    }
    if (target->kind != PK_LIST) return pk_fail(vm, NC_ERR_FORMAT, "APPEND(S) on a %s", pk_kind_name(target));
    for (int64_t i = 0; i < n && !st; i++) st = pk_list_append(vm, target, items[i]);
    return st;
}

static nc_status op_add_marked(pk_vm *vm, bool pairs) {
    pk_obj **items = NULL;
    int64_t n = 0;
    nc_status st = pop_mark(vm, &items, &n);
    /* items stay valid: add_items pushes nothing. */
    return st ? st : add_items(vm, items, n, pairs);
}

static nc_status op_add_top(pk_vm *vm, int64_t n) {
    if (avail(vm) < n + 1) return pk_fail(vm, NC_ERR_FORMAT, "stack underflow");
    vm->sp -= n;
    return add_items(vm, vm->stack + vm->sp, n, n == 2);
}

static nc_status op_reduce(pk_vm *vm, bool newobj_ex) {
    pk_obj *args, *fn, *kwargs = NULL, *res = NULL;
    nc_status st = newobj_ex ? pop(vm, &kwargs) : NC_OK;
    if (!st) st = pop(vm, &args);
    if (!st) st = pop(vm, &fn);
    if (st) return st;
    if (args->kind != PK_TUPLE)
        return pk_fail(vm, NC_ERR_FORMAT, "call arguments must be a tuple, got %s", pk_kind_name(args));
    st = pk_call(vm, fn, args, &res);
    return st ? st : push(vm, res);
}

static nc_status op_build(pk_vm *vm) {
    pk_obj *state, *obj;
    nc_status st = pop(vm, &state);
    if (!st) st = top(vm, &obj);
    return st ? st : pk_build(vm, obj, state);
}

static nc_status op_persid(pk_vm *vm) {
    pk_obj *pid, *res = NULL;
    nc_status st = pop(vm, &pid);
    if (!st) st = pk_persistent_load(vm, pid, &res);
    return st ? st : push(vm, res);
}

static nc_status op_binfloat(pk_vm *vm) {
    nc_status st = need(vm, 8);
    if (st) return st;
    uint64_t u = 0; /* big-endian IEEE double */
    for (int i = 0; i < 8; i++) u = (u << 8) | vm->p[i];
    vm->p += 8;
    pk_obj *o = pk_new(vm, PK_FLOAT);
    if (o) memcpy(&o->u.f, &u, 8);
    return push(vm, o);
}

static nc_status push_int(pk_vm *vm, int64_t v) {
    pk_obj *o = pk_new(vm, PK_INT);
    if (o) o->u.i = v;
    return push(vm, o);
}

static nc_status step(pk_vm *vm, int op, bool *stop) {
    nc_status st;
    switch (op) {
    case OP_PROTO:
        if ((st = need(vm, 1))) return st;
        if (*vm->p > 5) return pk_fail(vm, NC_ERR_UNSUPPORTED, "pickle protocol %d (at most 5 exists)", *vm->p);
        vm->p++;
        return NC_OK;
    case OP_FRAME: /* frames only group bytes; the data reads straight through */
        if ((st = need(vm, 8))) return st;
        vm->p += 8;
        return NC_OK;
    case OP_STOP: *stop = true; return NC_OK;
    case OP_MARK: return push_mark(vm);
    case OP_POP:
        if (avail(vm) > 0) {
            vm->sp--;
            return NC_OK;
        } else {
            pk_obj **items = NULL;
            int64_t n = 0;
            return pop_mark(vm, &items, &n);
        }
    case OP_POP_MARK: {
        pk_obj **items = NULL;
        int64_t n = 0;
        return pop_mark(vm, &items, &n);
    }
    case OP_DUP: {
        pk_obj *o;
        if ((st = top(vm, &o))) return st;
        return push(vm, o);
    }
    case OP_NONE: return push(vm, vm->none);
    case OP_NEWTRUE: return push(vm, vm->true_);
    case OP_NEWFALSE: return push(vm, vm->false_);
    case OP_BININT:
        if ((st = need(vm, 4))) return st;
        return push_int(vm, (int32_t)(uint32_t)rd_le(vm, 4));
    case OP_BININT1:
        if ((st = need(vm, 1))) return st;
        return push_int(vm, (int64_t)rd_le(vm, 1));
    case OP_BININT2:
        if ((st = need(vm, 2))) return st;
        return push_int(vm, (int64_t)rd_le(vm, 2));
    case OP_LONG1:
        if ((st = need(vm, 1))) return st;
        return push_long(vm, rd_le(vm, 1));
    case OP_LONG4: {
        if ((st = need(vm, 4))) return st;
        int32_t n = (int32_t)(uint32_t)rd_le(vm, 4);
        if (n < 0) return pk_fail(vm, NC_ERR_FORMAT, "LONG4 with negative length");
        return push_long(vm, (uint64_t)n);
    }
    case OP_BINFLOAT: return op_binfloat(vm);
    case OP_BINUNICODE: return push_str(vm, PK_STR, 4);
    case OP_SHORT_BINUNICODE: return push_str(vm, PK_STR, 1);
    case OP_BINUNICODE8: return push_str(vm, PK_STR, 8);
    case OP_BINSTRING: return push_str(vm, PK_STR, 4);
    case OP_SHORT_BINSTRING: return push_str(vm, PK_STR, 1);
    case OP_BINBYTES: return push_str(vm, PK_BYTES, 4);
    case OP_SHORT_BINBYTES: return push_str(vm, PK_BYTES, 1);
    case OP_BINBYTES8: return push_str(vm, PK_BYTES, 8);
    case OP_EMPTY_TUPLE: return push(vm, pk_new_seq(vm, PK_TUPLE, NULL, 0));
    case OP_TUPLE1: return op_tuple_n(vm, 1);
    case OP_TUPLE2: return op_tuple_n(vm, 2);
    case OP_TUPLE3: return op_tuple_n(vm, 3);
    case OP_TUPLE: return op_from_mark(vm, PK_TUPLE);
    case OP_FROZENSET: return op_from_mark(vm, PK_TUPLE);
    case OP_EMPTY_LIST:
    case OP_EMPTY_SET: return push(vm, pk_new_seq(vm, PK_LIST, NULL, 0));
    case OP_LIST: return op_from_mark(vm, PK_LIST);
    case OP_APPEND: return op_add_top(vm, 1);
    case OP_APPENDS:
    case OP_ADDITEMS: return op_add_marked(vm, false);
    case OP_EMPTY_DICT: return push(vm, pk_new(vm, PK_DICT));
    case OP_DICT: return op_from_mark(vm, PK_DICT);
    case OP_SETITEM: return op_add_top(vm, 2);
    case OP_SETITEMS: return op_add_marked(vm, true);
    case OP_BINPUT:
        if ((st = need(vm, 1))) return st;
        return memo_put(vm, rd_le(vm, 1));
    case OP_LONG_BINPUT:
        if ((st = need(vm, 4))) return st;
        return memo_put(vm, rd_le(vm, 4));
    case OP_MEMOIZE: return memo_put(vm, (uint64_t)vm->memo_count);
    case OP_BINGET:
        if ((st = need(vm, 1))) return st;
        return memo_get(vm, rd_le(vm, 1));
    case OP_LONG_BINGET:
        if ((st = need(vm, 4))) return st;
        return memo_get(vm, rd_le(vm, 4));
    case OP_GLOBAL: return op_global(vm);
    case OP_STACK_GLOBAL: return op_stack_global(vm);
    case OP_REDUCE:
    case OP_NEWOBJ: return op_reduce(vm, false);
    case OP_NEWOBJ_EX: return op_reduce(vm, true);
    case OP_BUILD: return op_build(vm);
    case OP_BINPERSID: return op_persid(vm);
    default:
        if (op >= 0x20 && op < 0x7f)
            return pk_fail(vm, NC_ERR_UNSUPPORTED, "unsupported pickle opcode 0x%02x ('%c')", op, op);
        return pk_fail(vm, NC_ERR_UNSUPPORTED, "unsupported pickle opcode 0x%02x", op);
    }
}

static void vm_free(pk_vm *vm) {
    nc_free(vm->stack);
    nc_free(vm->marks);
    nc_free(vm->memo);
    nc_strmap_free(vm->storage_index);
}

void pk_result_free(pk_result *r) {
    for (int64_t i = 0; i < r->n_storages; i++) nc_free(r->storages[i].key);
    nc_free(r->storages);
    nc_free(r->tensors);
    nc_arena_free(r->arena);
    *r = (pk_result){0};
}

nc_status pk_load(const void *buf, size_t len, const char *what, bool allow_unknown, pk_result *out) {
    *out = (pk_result){0};
    pk_vm vm = {.start = buf, .p = buf, .end = (const unsigned char *)buf + len, .what = what,
                .allow_unknown = allow_unknown};
    nc_status st = nc_arena_create(0, &vm.arena);
    if (!st) st = nc_strmap_new(&vm.storage_index);
    if (!st) {
        vm.none = pk_new(&vm, PK_NONE);
        vm.true_ = pk_new(&vm, PK_BOOL);
        vm.false_ = pk_new(&vm, PK_BOOL);
        if (!vm.none || !vm.true_ || !vm.false_) st = nc_error(NC_ERR_OOM, "%s: pickle", what);
        else vm.true_->u.b = true;
    }
    bool stop = false;
    while (!st && !stop) {
        if (vm.p >= vm.end) {
            vm.op_off = len;
            st = pk_fail(&vm, NC_ERR_FORMAT, "pickle ends without STOP");
            break;
        }
        vm.op_off = (size_t)(vm.p - vm.start);
        st = step(&vm, *vm.p++, &stop);
    }
    if (!st && vm.sp < 1) st = pk_fail(&vm, NC_ERR_FORMAT, "STOP with an empty stack");
    pk_result r = {.storages = vm.storages, .n_storages = vm.n_storages, .tensors = vm.tensors,
                   .n_tensors = vm.n_tensors, .arena = vm.arena};
    if (!st) r.root = vm.stack[vm.sp - 1];
    vm_free(&vm);
    if (st) {
        pk_result_free(&r);
        return st;
    }
    *out = r;
    return NC_OK;
}
