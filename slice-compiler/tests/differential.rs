//! Differential test against ZeroC's `slice2cpp`: small Slice inputs, valid
//! and invalid, each run through both compilers. They must agree on
//! acceptance and, for rejected inputs, on the line of the first error. This
//! complements the invalid corpus (`tests/invalid/`) with inputs Ice accepts,
//! so that checks are not stricter than Ice's.

// A test harness: a missing slice2cpp must fail the test loudly.
#![allow(clippy::panic)]

use std::process::Command;

/// (name, Slice text).
const CASES: &[(&str, &str)] = &[
    (
        "fwd_never_defined_member",
        r#"module M {
class C;
struct S {
C c;
};
};
"#,
    ),
    (
        "fwd_never_defined_iface_proxy",
        r#"module M {
interface I;
struct S {
I* p;
};
};
"#,
    ),
    (
        "fwd_iface_never_defined_param",
        r#"module M {
interface I;
interface J {
void f(I* p);
};
};
"#,
    ),
    (
        "fwd_class_value_param",
        r#"module M {
class C;
interface J {
void f(C c);
};
};
"#,
    ),
    (
        "escaped_kw",
        r#"module M {
struct \module {
int \int;
};
};
"#,
    ),
    (
        "const_enum",
        r#"module M {
enum E {
A, B };
const E X = B;
const E Y = E::A;
};
"#,
    ),
    (
        "const_ref",
        r#"module M {
const int A = 5;
const long B = A;
const double D = 3;
const float F = 1.5f;
};
"#,
    ),
    (
        "tag_const",
        r#"module M {
const int T = 3;
class C {
optional(T) int x;
};
};
"#,
    ),
    (
        "class_ops",
        r#"module M {
interface I {
void f();
};
class C implements I {
int x;
void g();
};
};
"#,
    ),
    (
        "object_types",
        r#"module M {
struct S {
Object* p;
Value v;
Object o;
};
sequence<Object*> Prxs;
dictionary<string, Value> D;
};
"#,
    ),
    (
        "local_obj",
        r#"module M {
local interface L {
LocalObject get();
};
};
"#,
    ),
    (
        "compact_id",
        r#"module M {
class C(5) {
int x;
};
class D(6) extends C {
int y;
};
};
"#,
    ),
    (
        "compact_dup",
        r#"module M {
class C(5) {
int x;
};
class D(5) {
int y;
};
};
"#,
    ),
    (
        "compact_neg",
        r#"module M {
class C(-1) {
int x;
};
};
"#,
    ),
    (
        "class_proxy",
        r#"module M {
class C {
int x;
};
struct S {
C* p;
};
};
"#,
    ),
    (
        "value_proxy",
        r#"module M {
struct S {
Value* p;
};
};
"#,
    ),
    (
        "enum_scoped",
        r#"module M {
enum E {
A };
enum F {
A };
};
"#,
    ),
    (
        "enum_member_clash",
        r#"module M {
enum E {
A };
struct A {
int x;
};
};
"#,
    ),
    (
        "seq_of_self",
        r#"module M {
sequence<int> S;
sequence<S> SS;
};
"#,
    ),
    (
        "struct_self",
        r#"module M {
struct S {
S s;
};
};
"#,
    ),
    (
        "class_self",
        r#"module M {
class C {
C next;
};
};
"#,
    ),
    (
        "exception_member_exc",
        r#"module M {
exception E {
};
exception F {
E e;
};
};
"#,
    ),
    (
        "iface_diamond",
        r#"module M {
interface A {
void f();
};
interface B extends A {
};
interface C extends A {
};
interface D extends B, C {
};
};
"#,
    ),
    (
        "iface_dup_base",
        r#"module M {
interface A {
void f();
};
interface D extends A, A {
};
};
"#,
    ),
    (
        "throws_dup",
        r#"module M {
exception E {
};
interface I {
void f() throws E, E;
};
};
"#,
    ),
    (
        "op_param_named_like_op",
        r#"module M {
interface I {
void f(int f);
};
};
"#,
    ),
    (
        "member_named_like_struct",
        r#"module M {
struct S {
int S;
};
};
"#,
    ),
    (
        "member_named_like_class",
        r#"module M {
class C {
int C;
};
};
"#,
    ),
    (
        "member_type_name_clash",
        r#"module M {
struct T {
int x;
};
struct S {
T T;
};
};
"#,
    ),
    (
        "nested_module_lookup",
        r#"module A {
struct S {
int x;
};
module B {
struct S {
A::S s;
};
};
};
"#,
    ),
    (
        "changed_meaning2",
        r#"module M {
struct X {
int a;
};
module N {
struct Y {
X x;
};
struct X {
int b;
};
};
};
"#,
    ),
    (
        "unknown_metadata",
        r#"module M {
["foo:bar"] struct S {
int x;
};
};
"#,
    ),
    (
        "idempotent_ok",
        r#"module M {
interface I {
idempotent int f();
};
};
"#,
    ),
    (
        "optional_return",
        r#"module M {
interface I {
optional(1) int f(optional(2) int a, out optional(3) string b);
};
};
"#,
    ),
    (
        "optional_class_type",
        r#"module M {
class C {
int x;
};
class D {
optional(1) C c;
};
};
"#,
    ),
    (
        "string_escapes",
        r#"module M {
const string S = "\\ \" \n \x41 \101 \u00e9 \U0001F600";
};
"#,
    ),
    (
        "string_bad_escape",
        r#"module M {
const string S = "\q";
};
"#,
    ),
    (
        "string_bad_u",
        r#"module M {
const string S = "\u12";
};
"#,
    ),
    (
        "float_exp",
        r#"module M {
const double D = 1.5e-3;
const float F = -2E+2F;
const double H = 0x10;
};
"#,
    ),
    (
        "float_range",
        r#"module M {
const float F = 1e39;
};
"#,
    ),
    (
        "bool_key",
        r#"module M {
dictionary<bool, int> D;
};
"#,
    ),
    (
        "enum_key",
        r#"module M {
enum E {
A };
dictionary<E, int> D;
};
"#,
    ),
    (
        "struct_key",
        r#"module M {
struct K {
int a;
string b;
};
dictionary<K, int> D;
};
"#,
    ),
    (
        "seq_key",
        r#"module M {
sequence<int> Is;
dictionary<Is, int> D;
};
"#,
    ),
    (
        "empty_exception",
        r#"module M {
exception E {
};
};
"#,
    ),
    (
        "empty_class",
        r#"module M {
class C {
};
};
"#,
    ),
    (
        "empty_iface",
        r#"module M {
interface I {
};
};
"#,
    ),
    (
        "empty_module",
        r#"module M {
};
"#,
    ),
    (
        "nested_types_in_class",
        r#"module M {
class C {
struct S {
int x;
};
};
};
"#,
    ),
    (
        "ops_in_struct",
        r#"module M {
struct S {
void f();
};
};
"#,
    ),
    (
        "data_in_interface",
        r#"module M {
interface I {
int x;
};
};
"#,
    ),
    (
        "void_member",
        r#"module M {
struct S {
void x;
};
};
"#,
    ),
    (
        "out_in_return",
        r#"module M {
interface I {
out int f();
};
};
"#,
    ),
    (
        "local_exc_in_local",
        r#"module M {
local exception L {
};
local interface I {
void f() throws L;
};
};
"#,
    ),
    (
        "local_exc_base_nonlocal",
        r#"module M {
exception N {
};
local exception L extends N {
};
};
"#,
    ),
    (
        "deprecated_meta",
        r#"module M {
["deprecate:use other"] interface I {
["deprecate"] void f();
};
};
"#,
    ),
    (
        "amd",
        r#"module M {
["amd"] interface I {
["amd"] void f();
};
};
"#,
    ),
    (
        "class_extends_fwd_defined_later",
        r#"module M {
class A;
class B {
A a;
};
class A {
int x;
};
};
"#,
    ),
    (
        "interface_uses_class_by_value",
        r#"module M {
class C {
int x;
};
interface I {
C get();
void set(C c);
};
};
"#,
    ),
    (
        "object_param",
        r#"module M {
interface I {
Object get();
Object* prx();
Value v();
};
};
"#,
    ),
    (
        "localobject_nonlocal_seq",
        r#"module M {
sequence<LocalObject> S;
};
"#,
    ),
    (
        "scoped_global",
        r#"module M {
struct S {
int x;
};
};
module N {
struct T {
::M::S s;
M::S t;
};
};
"#,
    ),
    (
        "module_reopen_case_inner",
        r#"module M {
module a {
};
};
module M {
module A {
};
};
"#,
    ),
    (
        "typo_case_use",
        r#"module M {
struct Point {
int x;
};
struct S {
point p;
};
};
"#,
    ),
    (
        "const_string_to_enum_name",
        r#"module M {
enum E {
A };
const E X = ::M::A;
};
"#,
    ),
    (
        "enum_explicit_const",
        r#"module M {
const int V = 3;
enum E {
A = V, B };
};
"#,
    ),
    (
        "enum_trailing_comma",
        r#"module M {
enum E {
A, B, };
};
"#,
    ),
    (
        "default_enum_member",
        r#"module M {
enum E {
A, B };
struct S {
E e = B;
};
};
"#,
    ),
    (
        "default_enum_scoped",
        r#"module M {
enum E {
A, B };
struct S {
E e = E::B;
};
};
"#,
    ),
    (
        "default_string",
        r#"module M {
struct S {
string s = "x";
bool b = true;
double d = 1;
};
};
"#,
    ),
    (
        "default_opt",
        r#"module M {
class C {
optional(1) int x = 5;
};
};
"#,
    ),
    ("empty_file", r#""#),
    (
        "two_ops_diff_params",
        r#"module M {
interface I {
void f(int a);
void f(string b);
};
};
"#,
    ),
    (
        "iface_extends_object",
        r#"module M {
interface I extends Object {
};
};
"#,
    ),
    (
        "class_extends_object",
        r#"module M {
class C extends Object {
};
};
"#,
    ),
    (
        "exception_extends_undefined_fwd",
        r#"module M {
class C;
exception E extends C {
};
};
"#,
    ),
    (
        "param_named_keyword_escaped",
        r#"module M {
interface I {
void f(int \out);
};
};
"#,
    ),
    (
        "metadata_after_doc",
        r#"module M {
/** doc */ ["amd"] interface I {
void f();
};
};
"#,
    ),
    (
        "file_meta_after_def",
        r#"module M {
};
[["cpp:header-ext:hh"]]"#,
    ),
    (
        "file_meta_in_module",
        r#"module M {
[["x"]] };
"#,
    ),
    (
        "global_meta_list",
        r#"[["a", "b"]] module M {
};
"#,
    ),
    (
        "semicolon_after_fwd_missing",
        r#"module M {
class C };
"#,
    ),
    (
        "double_semicolon",
        r#"module M {
struct S {
int x;
};
;
};
"#,
    ),
    (
        "stray_semicolon_top",
        r#";
"#,
    ),
    (
        "idempotent_member",
        r#"module M {
class C {
idempotent int x;
};
};
"#,
    ),
    (
        "proxy_of_proxy",
        r#"module M {
interface I {
};
struct S {
I** p;
};
};
"#,
    ),
    (
        "const_int_plus",
        r#"module M {
const int X = +5;
const long Y = -9223372036854775808;
};
"#,
    ),
    (
        "const_octal",
        r#"module M {
const int X = 017;
const int Y = 09;
};
"#,
    ),
    (
        "byte_neg_default",
        r#"module M {
struct S {
byte b = -1;
};
};
"#,
    ),
    (
        "local_class_in_nonlocal_iface_op_value",
        r#"module M {
local class L {
};
interface I {
void f(L l);
};
};
"#,
    ),
    (
        "out_param_local",
        r#"module M {
local interface L {
};
interface I {
void f(out L l);
};
};
"#,
    ),
    (
        "throws_nonexc_local",
        r#"module M {
local interface L {
};
interface I {
void f() throws L;
};
};
"#,
    ),
    (
        "class_two_bases",
        r#"module M {
class A {
};
class B {
};
class C extends A, B {
};
};
"#,
    ),
    (
        "iface_implements",
        r#"module M {
interface A {
};
interface B implements A {
};
};
"#,
    ),
    (
        "class_op_clash_iface_op",
        r#"module M {
interface I {
void f();
};
class C implements I {
void f();
};
};
"#,
    ),
    (
        "class_implements_dup_op",
        r#"module M {
interface I {
void f();
};
interface J {
void f();
};
class C implements I, J {
};
};
"#,
    ),
    (
        "dict_value_exception",
        r#"module M {
exception E {
};
dictionary<int, E> D;
};
"#,
    ),
    (
        "enumerator_const_redef",
        r#"module M {
enum E {
A };
const int A = 1;
};
"#,
    ),
    (
        "type_named_Object",
        r#"module M {
struct Object {
int x;
};
};
"#,
    ),
    (
        "ident_ice_in_member",
        r#"module M {
struct S {
int iceberg;
};
};
"#,
    ),
    (
        "underscore_meta",
        r#"[["underscore"]] module M {
struct S_T {
int x_y;
};
};
"#,
    ),
    (
        "ice_prefix_meta",
        r#"[["ice-prefix"]] module IceM {
struct S {
int x;
};
};
"#,
    ),
    (
        "missing_semi_member",
        r##"module M {
struct S {
int x
};
};
"##,
    ),
    (
        "missing_semi_seq",
        r##"module M {
sequence<int> S
struct T { int x; };
};
"##,
    ),
    (
        "missing_brace_module",
        r##"module M {
struct S { int x; };

"##,
    ),
    (
        "extra_brace",
        r##"module M {
struct S { int x; };
};
};
"##,
    ),
    (
        "bad_type_kw",
        r##"module M {
struct S {
module x;
};
};
"##,
    ),
    (
        "param_missing_type",
        r##"module M {
interface I {
void f(x);
};
};
"##,
    ),
    (
        "param_trailing_comma",
        r##"module M {
interface I {
void f(int x,);
};
};
"##,
    ),
    (
        "throws_empty",
        r##"module M {
interface I {
void f() throws;
};
};
"##,
    ),
    (
        "metadata_unterminated",
        r##"module M {
["amd"
interface I {
void f();
};
};
"##,
    ),
    (
        "string_newline",
        r##"module M {
const string S = "abc
def";
};
"##,
    ),
    (
        "dict_missing_comma",
        r##"module M {
dictionary<int string> D;
};
"##,
    ),
    (
        "seq_missing_gt",
        r##"module M {
sequence<int S;
};
"##,
    ),
    (
        "enum_missing_comma",
        r##"module M {
enum E { A
B };
};
"##,
    ),
    (
        "class_extends_two",
        r##"module M {
class A { int x; };
class B { int y; };
class C extends A, B { int z; };
};
"##,
    ),
    (
        "const_missing_eq",
        r##"module M {
const int X 5;
};
"##,
    ),
    (
        "const_no_value",
        r##"module M {
const int X = ;
};
"##,
    ),
    (
        "op_in_exception",
        r##"module M {
exception E {
void f();
};
};
"##,
    ),
    (
        "op_in_struct",
        r##"module M {
struct S {
int x;
void f();
};
};
"##,
    ),
    (
        "data_in_iface",
        r##"module M {
interface I {
int x;
};
};
"##,
    ),
    (
        "module_kw_name",
        r##"module module {
};
"##,
    ),
    (
        "module_no_name",
        r##"module {
};
"##,
    ),
    (
        "local_module",
        r##"local module M {
};
"##,
    ),
    (
        "local_const",
        r##"module M {
local const int X = 1;
};
"##,
    ),
    (
        "idempotent_data",
        r##"module M {
class C {
idempotent int x;
};
};
"##,
    ),
    (
        "out_return",
        r##"module M {
interface I {
out int f();
};
};
"##,
    ),
    (
        "void_param",
        r##"module M {
interface I {
void f(void x);
};
};
"##,
    ),
    (
        "proxy_builtin",
        r##"module M {
struct S {
int* p;
};
};
"##,
    ),
    (
        "value_proxy",
        r##"module M {
struct S {
Value* p;
};
};
"##,
    ),
    (
        "file_meta_late",
        r##"module M {
};
[["x"]]

"##,
    ),
    (
        "file_meta_late2",
        r##"module M {
};

[["x"]]
module N {
};
"##,
    ),
    (
        "ident_digit",
        r##"module M {
struct 1S { int x; };
};
"##,
    ),
    (
        "stray_char",
        r##"module M {
struct S { int x; };
@
};
"##,
    ),
    (
        "top_semicolon",
        r##"module M {
};
;
"##,
    ),
    (
        "two_semis",
        r##"module M {
struct S { int x; };;
};
"##,
    ),
    (
        "semi_after_member_list",
        r##"module M {
struct S { int x;; };
};
"##,
    ),
    (
        "hex_float",
        r##"module M {
const double D = 0x1.8p3;
};
"##,
    ),
    (
        "float_no_digits",
        r##"module M {
const double D = 1.e5;
};
"##,
    ),
    (
        "float_suffix_int",
        r##"module M {
const float F = 5f;
};
"##,
    ),
    (
        "int_suffix",
        r##"module M {
const long L = 5L;
};
"##,
    ),
    (
        "unicode_ident",
        r##"module M {
struct Sé { int x; };
};
"##,
    ),
    (
        "doc_then_meta",
        r##"module M {
/** d */
["amd"]
/** e */
interface I { void f(); };
};
"##,
    ),
    (
        "meta_between_words",
        r##"module M {
local ["x"] interface I { void f(); };
};
"##,
    ),
    (
        "meta_on_param_after_out",
        r##"module M {
interface I {
void f(out ["cpp:type:wstring"] string s);
};
};
"##,
    ),
    (
        "meta_on_return",
        r##"module M {
interface I {
["cpp:type:wstring"] string f();
};
};
"##,
    ),
    (
        "tag_hex",
        r##"module M {
class C {
optional(0x10) int x;
};
};
"##,
    ),
    (
        "tag_enum",
        r##"module M {
enum E { A, B };
class C {
optional(B) int x;
};
};
"##,
    ),
    (
        "tag_const_long",
        r##"module M {
const long T = 5;
class C {
optional(T) int x;
};
};
"##,
    ),
    (
        "tag_const_big",
        r##"module M {
const long T = 5000000000;
class C {
optional(T) int x;
};
};
"##,
    ),
    (
        "tag_byte_const",
        r##"module M {
const byte T = 5;
class C {
optional(T) int x;
};
};
"##,
    ),
    (
        "optional_struct_member_in_exc",
        r##"module M {
struct S { int x; };
exception E {
optional(1) S s;
};
};
"##,
    ),
    (
        "optional_param_no_type",
        r##"module M {
interface I {
void f(optional(1));
};
};
"##,
    ),
    (
        "out_optional_order",
        r##"module M {
interface I {
void f(optional(1) out int x);
};
};
"##,
    ),
    (
        "escaped_type",
        r##"module M {
struct \S { int x; };
struct T { \S s; };
};
"##,
    ),
    (
        "escaped_nonkw",
        r##"module M {
struct \Foo { int x; };
};
"##,
    ),
    (
        "scoped_kw",
        r##"module M {
struct T { ::M::\struct s; };
};
"##,
    ),
    (
        "global_scope_lookup_relative",
        r##"module A {
module B { struct S { int x; }; };
};
module C {
struct T { A::B::S s; B::S u; };
};
"##,
    ),
    (
        "inner_shadow",
        r##"module A {
struct S { int x; };
module B {
struct S { int y; };
struct T { S s; A::S t; };
};
};
"##,
    ),
    (
        "partial_scope",
        r##"module A {
module B { struct S { int x; }; };
struct T { B::S s; };
};
"##,
    ),
    (
        "case_use",
        r##"module M {
struct Point { int x; };
struct T { POINT p; };
};
"##,
    ),
    (
        "case_use_builtin",
        r##"module M {
struct T { Int p; };
};
"##,
    ),
    (
        "redef_param_name_as_type",
        r##"module M {
struct S { int x; };
interface I { void f(S S); };
};
"##,
    ),
    (
        "member_same_as_type",
        r##"module M {
struct S { int x; };
struct T { S s; int S; };
};
"##,
    ),
    (
        "enum_in_class_default",
        r##"module M {
enum E { A, B };
class C { E e = A; };
};
"##,
    ),
    (
        "default_enum_scoped_wrong",
        r##"module M {
enum E { A };
enum F { B };
struct S { E e = F::B; };
};
"##,
    ),
    (
        "const_string_concat",
        r##"module M {
const string S = "a" "b";
};
"##,
    ),
    (
        "const_bool_kw_case",
        r##"module M {
const bool B = TRUE;
};
"##,
    ),
    (
        "iface_base_proxy_syntax",
        r##"module M {
interface A {};
interface B extends A* {};
};
"##,
    ),
    (
        "class_base_scoped",
        r##"module M {
class A { int x; };
};
module N {
class B extends ::M::A { int y; };
};
"##,
    ),
    (
        "exc_diamond",
        r##"module M {
exception A {};
exception B extends A {};
exception C extends B { int x; };
};
"##,
    ),
    (
        "interface_redefine_after_use",
        r##"module M {
interface I;
struct S { I* p; };
interface I { void f(); };
};
"##,
    ),
    (
        "class_fwd_defined_in_other_module",
        r##"module M {
class C;
};
module M {
class C { int x; };
};
"##,
    ),
    (
        "fwd_local_then_local",
        r##"module M {
local interface L;
local interface L { void f(); };
};
"##,
    ),
    (
        "dict_key_struct_with_enum",
        r##"module M {
enum E { A };
struct K { E e; string s; };
dictionary<K, int> D;
};
"##,
    ),
    (
        "dict_key_struct_nested_struct",
        r##"module M {
struct A { int x; };
struct K { A a; };
dictionary<K, int> D;
};
"##,
    ),
    (
        "dict_key_string_seq",
        r##"module M {
sequence<string> SS;
dictionary<SS, int> D;
};
"##,
    ),
    (
        "dict_key_long",
        r##"module M {
dictionary<long, int> D;
};
"##,
    ),
    (
        "dict_key_byte",
        r##"module M {
dictionary<byte, int> D;
};
"##,
    ),
    (
        "local_dict_value_local",
        r##"module M {
local interface L {};
local dictionary<int, L> D;
};
"##,
    ),
    (
        "nonlocal_dict_value_local",
        r##"module M {
local interface L {};
dictionary<int, L> D;
};
"##,
    ),
    (
        "local_struct_localobject",
        r##"module M {
local struct S { LocalObject o; };
};
"##,
    ),
    (
        "const_localobject",
        r##"module M {
const LocalObject L = 0;
};
"##,
    ),
    (
        "nonlocal_class_local_op_param",
        r##"module M {
local interface L {};
class C { void f(L l); };
};
"##,
    ),
    (
        "local_exc_from_local_iface",
        r##"module M {
local exception E {};
local interface I { void f() throws E; };
};
"##,
    ),
    (
        "nonlocal_exc_local_member",
        r##"module M {
local interface L {};
exception E { L l; };
};
"##,
    ),
    (
        "local_class_nonlocal_base",
        r##"module M {
class A {};
local class B extends A {};
};
"##,
    ),
    (
        "local_exc_nonlocal_base",
        r##"module M {
exception A {};
local exception B extends A {};
};
"##,
    ),
    (
        "value_member",
        r##"module M {
class C { Value v; Object o; };
};
"##,
    ),
    (
        "object_as_base_iface",
        r##"module M {
interface I extends ::Ice::Object {};
};
"##,
    ),
    (
        "enum_max",
        r##"module M {
enum E { A = 2147483647 };
};
"##,
    ),
    (
        "enum_hex",
        r##"module M {
enum E { A = 0x10, B = 010 };
};
"##,
    ),
    (
        "enum_neg_zero",
        r##"module M {
enum E { A = -0 };
};
"##,
    ),
    (
        "enum_plus",
        r##"module M {
enum E { A = +1 };
};
"##,
    ),
    (
        "enum_const_ref",
        r##"module M {
const byte V = 3;
enum E { A = V };
};
"##,
    ),
    (
        "enum_const_string_ref",
        r##"module M {
const string V = "x";
enum E { A = V };
};
"##,
    ),
    (
        "enum_undefined_ref",
        r##"module M {
enum E { A = Nope };
};
"##,
    ),
    (
        "enum_self_ref",
        r##"module M {
enum E { A, B = A };
};
"##,
    ),
    (
        "enumerator_kw",
        r##"module M {
enum E { \int, B };
};
"##,
    ),
    (
        "enum_dup_across_enums",
        r##"module M {
enum E { A };
enum F { B, A };
};
"##,
    ),
    (
        "throws_local_in_local",
        r##"module M {
local exception E {};
local interface I { void f() throws E; };
};
"##,
    ),
    (
        "class_op_throws",
        r##"module M {
exception E {};
class C { void f() throws E; };
};
"##,
    ),
    (
        "op_name_kw_escaped",
        r##"module M {
interface I { void \module(); };
};
"##,
    ),
    (
        "ops_overload_case",
        r##"module M {
interface I { void f(); void F(); };
};
"##,
    ),
    (
        "param_name_same_as_op",
        r##"module M {
interface I { void f(int f); };
};
"##,
    ),
    (
        "param_case_same_as_op",
        r##"module M {
interface I { void f(int F); };
};
"##,
    ),
    (
        "return_optional_no_tag",
        r##"module M {
interface I { optional int f(); };
};
"##,
    ),
    (
        "include_self_pragma",
        r##"#pragma once
#include "include_self_pragma.ice"
module M {
};
"##,
    ),
    (
        "define_func_macro",
        r##"#define F(x) x
module M {
};
"##,
    ),
    (
        "if_undefined_ident",
        r##"#if FOO
module Bad {
#endif
module M {
};
"##,
    ),
    (
        "elif_after_else",
        r##"#if 0
#else
#elif 1
#endif
module M {
};
"##,
    ),
    (
        "else_twice",
        r##"#if 0
#else
#else
#endif
module M {
};
"##,
    ),
    (
        "unknown_directive",
        r##"#foo
module M {
};
"##,
    ),
    (
        "pragma_other",
        r##"#pragma foo
module M {
};
"##,
    ),
    (
        "ifdef_no_name",
        r##"#ifdef
#endif
module M {
};
"##,
    ),
    (
        "line_directive",
        r##"#line 10
module M {
struct S { X x; };
};
"##,
    ),
    (
        "include_missing_angle",
        r##"#include <nope.ice>
module M {
};
"##,
    ),
    (
        "include_no_quotes",
        r##"#include nope.ice
module M {
};
"##,
    ),
    (
        "error_directive_inactive",
        r##"#if 0
#error nope
#endif
module M {
};
"##,
    ),
    (
        "directive_indented",
        r##"  #ifdef X
module Bad {
  #endif
module M {
};
"##,
    ),
    (
        "directive_space",
        r##"# ifdef X
module Bad {
# endif
module M {
};
"##,
    ),
    (
        "continuation",
        r##"#if defined(A) || \
 defined(B)
module Bad {
#endif
module M {
struct S { X x; };
};
"##,
    ),
    (
        "exc_extends_self",
        r##"module M {
exception E extends E {};
};
"##,
    ),
    (
        "iface_by_value_member",
        r##"module M {
interface I { void f(); };
struct S {
I i;
};
};
"##,
    ),
    (
        "iface_by_value_param",
        r##"module M {
interface I { void f(); };
interface J {
void g(I i);
};
};
"##,
    ),
    (
        "iface_fwd_by_value",
        r##"module M {
interface I;
class C {
I i;
};
};
"##,
    ),
    (
        "partial_inner_shadow",
        r##"module A {
struct S { int x; };
};
module C {
module A {
};
struct T {
A::S s;
};
};
"##,
    ),
    (
        "partial_inner_shadow2",
        r##"module A {
struct S { int x; };
};
module C {
struct A { int y; };
struct T {
A::S s;
};
};
"##,
    ),
    (
        "optional_local",
        r##"module M {
local interface L {};
local class C {
optional(1) L l;
};
};
"##,
    ),
    (
        "optional_in_local_struct",
        r##"module M {
local struct S {
optional(1) int x;
};
};
"##,
    ),
    (
        "optional_param_local_iface",
        r##"module M {
local interface I {
void f(optional(1) int x);
};
};
"##,
    ),
    (
        "local_seq_of_nonlocal",
        r##"module M {
local sequence<int> S;
};
"##,
    ),
    (
        "iface_op_named_object_op",
        r##"module M {
interface I {
void ice_ping();
};
};
"##,
    ),
    (
        "class_named_like_module",
        r##"module M {
class M { int x; };
};
"##,
    ),
    (
        "module_named_like_parent",
        r##"module M {
module M {
};
};
"##,
    ),
    (
        "struct_member_named_like_module",
        r##"module M {
struct S { int M; };
};
"##,
    ),
    (
        "const_name_as_type_scope",
        r##"module M {
const int C = 1;
struct S { C::X x; };
};
"##,
    ),
    (
        "enum_used_as_scope",
        r##"module M {
enum E { A };
const E X = E::A;
const E Y = ::M::E::A;
};
"##,
    ),
    (
        "enum_wrong_scope",
        r##"module M {
enum E { A };
enum F { B };
const E X = E::B;
};
"##,
    ),
    (
        "default_const_ref",
        r##"module M {
const int C = 3;
struct S { int x = C; };
};
"##,
    ),
    (
        "default_const_wrong",
        r##"module M {
const string C = "a";
struct S {
int x = C;
};
};
"##,
    ),
    (
        "default_float_to_int",
        r##"module M {
struct S {
int x = 1.0;
};
};
"##,
    ),
    (
        "default_int_to_float",
        r##"module M {
struct S {
float x = 1;
};
};
"##,
    ),
    (
        "default_long_range",
        r##"module M {
struct S {
long x = 9223372036854775808;
};
};
"##,
    ),
    (
        "const_long_min",
        r##"module M {
const long X = -9223372036854775808;
};
"##,
    ),
    (
        "const_long_below_min",
        r##"module M {
const long X = -9223372036854775809;
};
"##,
    ),
    (
        "const_byte_hex",
        r##"module M {
const byte X = 0xff;
};
"##,
    ),
    (
        "const_short_octal_big",
        r##"module M {
const short X = 0177777;
};
"##,
    ),
    (
        "const_float_big",
        r##"module M {
const float X = 3.5e38;
};
"##,
    ),
    (
        "const_float_neg_big",
        r##"module M {
const float X = -3.5e38;
};
"##,
    ),
    (
        "const_double_inf",
        r##"module M {
const double X = 1e400;
};
"##,
    ),
    (
        "const_enum_undefined",
        r##"module M {
enum E { A };
const E X = Z;
};
"##,
    ),
    (
        "const_type_undefined",
        r##"module M {
const Z X = 1;
};
"##,
    ),
    (
        "const_chain",
        r##"module M {
const int A = 1;
const int B = A;
const long C = B;
const byte D = C;
};
"##,
    ),
    (
        "const_bool_from_const",
        r##"module M {
const bool A = true;
const bool B = A;
};
"##,
    ),
    (
        "const_string_escape_oct_big",
        r##"module M {
const string S = "\777";
};
"##,
    ),
    (
        "const_string_hex_big",
        r##"module M {
const string S = "\x1FF";
};
"##,
    ),
    (
        "const_string_u_surrogate",
        r##"module M {
const string S = "\uD800";
};
"##,
    ),
    (
        "const_string_nul",
        r##"module M {
const string S = "a\0b";
};
"##,
    ),
    (
        "class_member_uses_later_class",
        r##"module M {
class A {
B b;
};
class B { int x; };
};
"##,
    ),
    (
        "op_throws_fwd_class",
        r##"module M {
class C;
interface I {
void f() throws C;
};
};
"##,
    ),
    (
        "exc_extends_exc_in_other_module",
        r##"module A {
exception E {};
};
module B {
exception F extends A::E {};
};
"##,
    ),
    (
        "iface_base_defined_later_name_same",
        r##"module M {
interface A;
interface B extends A { void f(); };
interface A { void g(); };
};
"##,
    ),
    (
        "dup_bases",
        r##"module M {
interface A { void f(); };
interface B extends A, A { void g(); };
};
"##,
    ),
    (
        "implements_dup",
        r##"module M {
interface A { void f(); };
class B implements A, A { int x; };
};
"##,
    ),
    (
        "class_op_overrides_base_op",
        r##"module M {
class A { void f(); };
class B extends A { void f(); };
};
"##,
    ),
    (
        "class_member_clash_implemented_op",
        r##"module M {
interface I { void f(); };
class C implements I { int f; };
};
"##,
    ),
    (
        "exception_member_case_base",
        r##"module M {
exception A { int x; };
exception B extends A { int X; };
};
"##,
    ),
    (
        "struct_seq_self",
        r##"module M {
sequence<S> Ss;
struct S { int x; };
};
"##,
    ),
    (
        "seq_self",
        r##"module M {
sequence<Ss> Ss;
};
"##,
    ),
    (
        "dict_self",
        r##"module M {
dictionary<int, D> D;
};
"##,
    ),
    (
        "class_contains_struct_containing_class",
        r##"module M {
class C;
struct S { C c; };
class C { S s; };
};
"##,
    ),
    (
        "struct_member_seq_of_self",
        r##"module M {
struct S { int x; };
sequence<S> Ss;
};
"##,
    ),
    (
        "param_out_then_in_optional",
        r##"module M {
interface I {
void f(out int a, optional(1) int b);
};
};
"##,
    ),
    (
        "keyword_as_op",
        r##"module M {
interface I {
void struct();
};
};
"##,
    ),
    (
        "keyword_as_member",
        r##"module M {
struct S {
int class;
};
};
"##,
    ),
    (
        "keyword_as_enum",
        r##"module M {
enum E { A, module };
};
"##,
    ),
    (
        "keyword_as_param",
        r##"module M {
interface I {
void f(int out);
};
};
"##,
    ),
    (
        "keyword_as_dict_name",
        r##"module M {
dictionary<int, int> sequence;
};
"##,
    ),
    (
        "keyword_case",
        r##"module M {
struct Struct { int x; };
};
"##,
    ),
    (
        "ident_digit_start",
        r##"module M {
struct S { int 2x; };
};
"##,
    ),
    (
        "ident_in_op_underscore",
        r##"module M {
interface I {
void f(int a_b);
};
};
"##,
    ),
    (
        "ident_enum_underscore",
        r##"module M {
enum E { A_B };
};
"##,
    ),
    (
        "ident_module_underscore",
        r##"module M_N {
};
"##,
    ),
    (
        "ice_prefix_member",
        r##"module M {
struct S { int iceCream; };
};
"##,
    ),
    (
        "ice_prefix_op",
        r##"module M {
interface I { void iceCream(); };
};
"##,
    ),
    (
        "suffix_member",
        r##"module M {
struct S { int fooPrx; };
};
"##,
    ),
    (
        "suffix_lower",
        r##"module M {
struct Fooprx { int x; };
};
"##,
    ),
    (
        "meta_bad_string",
        r##"module M {
[amd] interface I {};
};
"##,
    ),
    (
        "meta_empty",
        r##"module M {
[] interface I {};
};
"##,
    ),
    (
        "file_meta_empty",
        r##"[[]]
module M {
};
"##,
    ),
    (
        "two_file_meta",
        r##"[["a"]]
[["b"]]
module M {
};
"##,
    ),
    (
        "inc_once_twice",
        r##"#include <once.ice>
#include <once.ice>
module M {
struct T { ::Once::S s; };
};
"##,
    ),
    (
        "inc_no_once_twice",
        r##"#include <twice.ice>
#include <twice.ice>
module M {
};
"##,
    ),
    (
        "inc_guard_twice",
        r##"#include <guard.ice>
#include <guard.ice>
module M {
struct T { Guard::S s; };
};
"##,
    ),
    (
        "inc_nested_sibling",
        r##"#include <nested.ice>
module M {
struct T { Nested::T t; Sibling::S s; };
};
"##,
    ),
    (
        "inc_bad_syntax",
        r##"#include <bad_syntax.ice>
module M {
};
"##,
    ),
    (
        "inc_meta_then_def",
        r##"#include <meta.ice>
[["cpp:header-ext:h"]]
module M {
};
"##,
    ),
    (
        "inc_ice_prefix_scoped",
        r##"#include <ice_names.ice>
module M {
struct T { IceThing::S s; };
};
"##,
    ),
    (
        "inc_ice_prefix_leak",
        r##"#include <ice_names.ice>
module IceOther {
};
"##,
    ),
    (
        "inc_inside_module",
        r##"module M {
#include <once.ice>
};
"##,
    ),
    (
        "inc_quoted_dir",
        r##"#include "inc/once.ice"
module M {
};
"##,
    ),
    (
        "inc_quoted_missing",
        r##"#include "once.ice"
module M {
};
"##,
    ),
    (
        "inc_defined_in_include",
        r##"#include <guard.ice>
#ifdef GUARD_ICE
module Yes {
};
#endif
module M {
struct T { Yes::Nope n; };
};
"##,
    ),
    (
        "redef_across_include",
        r##"#include <once.ice>
module Once {
struct S { int y; };
};
"##,
    ),
    (
        "reopen_across_include",
        r##"#include <once.ice>
module Once {
struct T { S s; };
};
"##,
    ),
    (
        "meta_on_module",
        r##"["java:package:x"]
module M {
};
"##,
    ),
    (
        "meta_unterminated_list",
        r##"module M {
["a", 
"b"
] struct S { int x; };
};
"##,
    ),
    (
        "meta_trailing_comma",
        r##"module M {
["a",] struct S { int x; };
};
"##,
    ),
    (
        "doc_in_weird_place",
        r##"module M {
struct S {
int /** x */ x;
};
};
"##,
    ),
    (
        "comment_in_scoped",
        r##"module M {
struct S { int x; };
struct T { :: /* c */ M::S s; };
};
"##,
    ),
    (
        "space_in_scoped",
        r##"module M {
struct S { int x; };
struct T { M :: S s; };
};
"##,
    ),
    (
        "proxy_space",
        r##"module M {
interface I {};
struct T { I * p; };
};
"##,
    ),
    (
        "object_space_star",
        r##"module M {
struct T { Object * p; };
};
"##,
    ),
    (
        "crlf",
        "module M {\r\nstruct S { int x; };\r\nstruct S { int y; };\r\n};\n",
    ),
    (
        "tab_ws",
        r##"module	M	{
	struct	S	{	int	x;	};
};
"##,
    ),
    ("bom", "\u{feff}module M {\n};\n"),
    ("nul_char", "module M {\n\0\n};\n"),
    (
        "empty_comment",
        r##"module M {
/**/
struct S { int x; };
};
"##,
    ),
    (
        "doc_empty",
        r##"module M {
/***/
struct S { int x; };
};
"##,
    ),
    (
        "line_comment_eof",
        r##"module M {
};
// end
"##,
    ),
    (
        "block_comment_star",
        r##"module M {
/* a ** b */
};
"##,
    ),
    (
        "idempotent_twice",
        r##"module M {
interface I {
idempotent idempotent void f();
};
};
"##,
    ),
    (
        "out_twice",
        r##"module M {
interface I {
void f(out out int x);
};
};
"##,
    ),
    (
        "optional_twice",
        r##"module M {
class C {
optional(1) optional(2) int x;
};
};
"##,
    ),
    (
        "optional_space",
        r##"module M {
class C {
optional (1) int x;
};
};
"##,
    ),
    (
        "optional_no_paren",
        r##"module M {
class C {
optional 1 int x;
};
};
"##,
    ),
    (
        "throws_trailing_comma",
        r##"module M {
exception E {};
interface I {
void f() throws E,;
};
};
"##,
    ),
    (
        "extends_trailing_comma",
        r##"module M {
interface A {};
interface B extends A, {};
};
"##,
    ),
    (
        "class_compact_then_extends",
        r##"module M {
class A { int x; };
class B(2) extends A { int y; };
};
"##,
    ),
    (
        "class_compact_string",
        r##"module M {
class B("x") { int y; };
};
"##,
    ),
    (
        "class_compact_float",
        r##"module M {
class B(1.5) { int y; };
};
"##,
    ),
    (
        "class_compact_const_string",
        r##"module M {
const string X = "a";
class B(X) { int y; };
};
"##,
    ),
    (
        "class_compact_undefined",
        r##"module M {
class B(X) { int y; };
};
"##,
    ),
    (
        "enum_keyword_value",
        r##"module M {
enum E { A = true };
};
"##,
    ),
    (
        "deep_scopes",
        r##"module A {
module B {
module C {
struct S { int x; };
};
};
module D {
struct T { B::C::S s; ::A::B::C::S t; A::B::C::S u; };
};
};
"##,
    ),
    (
        "lookup_not_in_sibling",
        r##"module A {
module B {
struct S { int x; };
};
module D {
struct T { S s; };
};
};
"##,
    ),
    (
        "type_from_reopened",
        r##"module A {
struct S { int x; };
};
module B {
};
module A {
struct T { S s; };
};
"##,
    ),
    (
        "param_type_then_name_clash",
        r##"module M {
struct S { int x; };
interface I {
void f(S s, S S2);
};
};
"##,
    ),
    (
        "exception_used_in_throws_before_def",
        r##"module M {
interface I {
void f() throws E;
};
exception E {};
};
"##,
    ),
    (
        "op_returns_local_in_local",
        r##"module M {
local interface L {};
local interface I { L f(); };
};
"##,
    ),
    (
        "localobject_param_nonlocal",
        r##"module M {
interface I {
void f(LocalObject o);
};
};
"##,
    ),
    (
        "value_param_nonlocal",
        r##"module M {
interface I {
void f(Value v);
};
};
"##,
    ),
    (
        "object_by_value_param",
        r##"module M {
interface I {
void f(Object o);
};
};
"##,
    ),
    (
        "class_with_only_ops_local",
        r##"module M {
local class C {
void f();
};
};
"##,
    ),
    (
        "meta_before_out",
        r##"module M {
interface I {
void f(["cpp:type:wstring"] out string s);
};
};
"##,
    ),
    (
        "meta_after_out",
        r##"module M {
interface I {
void f(out ["cpp:type:wstring"] string s);
};
};
"##,
    ),
    (
        "meta_two_lists_def",
        r##"module M {
["a"]
["b"]
struct S { int x; };
};
"##,
    ),
    (
        "meta_two_lists_member",
        r##"module M {
struct S { ["a"] ["b"] int x; };
};
"##,
    ),
    (
        "meta_two_lists_seq",
        r##"module M {
sequence<["a"] ["b"] int> S;
};
"##,
    ),
    (
        "meta_before_tag_param",
        r##"module M {
interface I {
void f(["a"] optional(1) int x);
};
};
"##,
    ),
    (
        "meta_after_tag_param",
        r##"module M {
interface I {
void f(optional(1) ["a"] int x);
};
};
"##,
    ),
    (
        "meta_after_tag_member",
        r##"module M {
class C {
optional(1) ["a"] int x;
};
};
"##,
    ),
    (
        "meta_after_idempotent",
        r##"module M {
interface I {
idempotent ["a"] void f();
};
};
"##,
    ),
    (
        "meta_dict_types",
        r##"module M {
dictionary<["a"] int, ["b"] string> D;
};
"##,
    ),
    (
        "meta_const_type",
        r##"module M {
const ["a"] int X = 1;
};
"##,
    ),
    (
        "file_meta_in_struct",
        r##"module M {
struct S {
[["x"]]

int y;
};
};
"##,
    ),
    (
        "file_meta_in_struct_comment",
        r##"module M {
exception E {
[["x"]] /*
*
*/
string y;
};
};
"##,
    ),
    (
        "else_extra_tokens",
        r##"#if 1
#else x
#endif y
module M {
};
"##,
    ),
    (
        "endif_extra_inactive",
        r##"#if 0
#if 1
#endif y
#endif
module M {
};
"##,
    ),
    (
        "ifndef_extra_tokens",
        r##"#ifndef A B
#endif
module M {
};
"##,
    ),
    (
        "pragma_empty",
        r##"#pragma
module M {
};
"##,
    ),
    (
        "pragma_number",
        r##"#pragma 123
module M {
};
"##,
    ),
    (
        "pragma_unknown_inside",
        r##"module M {
#pragma foo
struct S { int x; };
};
"##,
    ),
    (
        "pragma_once_extra",
        r##"module M {
};
#pragma once foo

"##,
    ),
    (
        "void_with_tag",
        r##"module M {
interface I {
optional(1)
void f();
};
};
"##,
    ),
    (
        "stray_token_then_comment",
        r##"module M {
1.5 /* c

*/ struct S {int x;};
};
"##,
    ),
    (
        "type_name_then_newlines",
        r##"module M {
interface I { void f(Nope

x); };
};
"##,
    ),
    (
        "proxy_star_newlines",
        r##"module M {
struct S { int x; };
struct T { S

* p; };
};
"##,
    ),
    (
        "tag_name_newlines",
        r##"module M {
class C { optional(Nope

) int x; };
};
"##,
    ),
    (
        "module_name_then_syntax",
        r##"module M {
module M


};
};
"##,
    ),
    (
        "ident_error_then_syntax",
        r##"module M {
struct IceS { int x; };
struct T { int y };
};
"##,
    ),
    (
        "pp_include_excess",
        r##"#include <once.ice> Y
module M {
};
"##,
    ),
    (
        "pp_char_constant",
        r##"module M {
struct S { int x; };
it's here
};
"##,
    ),
    (
        "pp_char_in_comment_ok",
        r##"module M {
// it's fine
/* it's fine */
struct S { int x; };
};
"##,
    ),
    (
        "pp_unterminated_string",
        r##"module M {
const string S = "abc
";
};
"##,
    ),
    (
        "pp_unterminated_comment_eof",
        r##"module M {
struct S { int x; };
/* open
};
"##,
    ),
    (
        "pp_unterminated_comment_after_all",
        r##"module M {
struct S { int x; };
};
/* trailing
"##,
    ),
    (
        "placement_next_line_brace",
        r##"module M {
};
exception E
{
};
"##,
    ),
    (
        "idempotent_in_struct_multiline",
        r##"module M {
struct S
{ idempotent
/** doc */
string path;
};
};
"##,
    ),
    (
        "ifndef_not_identifier",
        r##"#ifndef 0x
#endif
module M {
};
"##,
    ),
];

/// Files under `inc/`, found through `-Iinc` by both compilers.
const INCLUDES: &[(&str, &str)] = &[
    (
        "bad_syntax.ice",
        r##"#pragma once
module Bad {
  struct S { int x };
};
"##,
    ),
    (
        "guard.ice",
        r##"#ifndef GUARD_ICE
#define GUARD_ICE
module Guard { struct S { int x; }; };
#endif
"##,
    ),
    (
        "ice_names.ice",
        r##"[["ice-prefix"]]
#pragma once
module IceThing { struct S { int x; }; };
"##,
    ),
    (
        "meta.ice",
        r##"[["cpp:header-ext:hh"]]
#pragma once
module Meta { struct S { int x; }; };
"##,
    ),
    (
        "nested.ice",
        r##"#pragma once
#include "sibling.ice"
module Nested { struct T { ::Sibling::S s; }; };
"##,
    ),
    (
        "once.ice",
        r##"#pragma once
module Once { struct S { int x; }; };
"##,
    ),
    (
        "sibling.ice",
        r##"#pragma once
module Sibling { struct S { int x; }; };
"##,
    ),
    (
        "twice.ice",
        r##"module Twice { struct S { int x; }; };
"##,
    ),
];

/// The file name (without folders) and line of the first error a compiler
/// printed (`file:LINE: ...` that is not a warning), or `None`.
fn first_error_line(stderr: &str) -> Option<(String, u32)> {
    stderr
        .lines()
        .filter(|l| !l.contains("warning:"))
        .find_map(|l| {
            let (path, rest) = l.split_once(".ice:")?;
            let (n, _) = rest.split_once(':')?;
            let file = path.rsplit('/').next().unwrap_or(path).to_string();
            Some((file, n.parse().ok()?))
        })
}

/// `(line, text)` of every warning, sorted.
fn warnings(stderr: &str) -> Vec<(u32, String)> {
    let mut out: Vec<(u32, String)> = stderr
        .lines()
        .filter_map(|l| {
            let (_, rest) = l.split_once(".ice:")?;
            let (n, text) = rest.split_once(": warning: ")?;
            Some((n.parse().ok()?, text.to_string()))
        })
        .collect();
    out.sort();
    out
}

fn run(cmd: &mut Command) -> (bool, String) {
    let o = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn slice2rs_agrees_with_slice2cpp() {
    let available = Command::new("slice2cpp")
        .arg("-v")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        available,
        "slice2cpp (ZeroC Ice 3.7) is not installed: run scripts/install-ice.sh"
    );
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let out = dir.path().join("out");
    std::fs::create_dir_all(&out).unwrap_or_else(|e| panic!("mkdir: {e}"));
    let inc = dir.path().join("inc");
    std::fs::create_dir_all(&inc).unwrap_or_else(|e| panic!("mkdir: {e}"));
    for (name, text) in INCLUDES {
        std::fs::write(inc.join(name), text).unwrap_or_else(|e| panic!("write: {e}"));
    }
    let mut problems = Vec::new();
    let mut rejected = 0;
    for (name, text) in CASES {
        let file = dir.path().join(format!("{name}.ice"));
        std::fs::write(&file, text).unwrap_or_else(|e| panic!("write: {e}"));
        let (cpp_ok, cpp_err) = run(Command::new("slice2cpp")
            .current_dir(dir.path())
            .arg("-Iinc")
            .arg("--output-dir")
            .arg(&out)
            .arg(&file));
        let (rs_ok, rs_err) = run(Command::new(env!("CARGO_BIN_EXE_slice2rs"))
            .current_dir(dir.path())
            .arg("-Iinc")
            .arg(&file));
        if rs_err.contains("panicked") {
            problems.push(format!("{name}: slice2rs panicked: {rs_err}"));
            continue;
        }
        if cpp_ok != rs_ok {
            problems.push(format!(
                "{name}: slice2cpp {} but slice2rs {}\n  slice2cpp: {}\n  slice2rs: {}",
                if cpp_ok { "accepts" } else { "rejects" },
                if rs_ok { "accepts" } else { "rejects" },
                cpp_err.trim(),
                rs_err.trim()
            ));
            continue;
        }
        if cpp_ok {
            // Accepted: the same warnings, at the same lines, with the same text.
            let (c, r) = (warnings(&cpp_err), warnings(&rs_err));
            if c != r {
                problems.push(format!(
                    "{name}: warnings differ\n  slice2cpp: {c:?}\n  slice2rs: {r:?}"
                ));
            }
        } else {
            rejected += 1;
            let (c, r) = (first_error_line(&cpp_err), first_error_line(&rs_err));
            if c != r || c.is_none() {
                problems.push(format!(
                    "{name}: first error at {c:?} (slice2cpp) vs {r:?} (slice2rs)\n  slice2cpp: {}\n  slice2rs: {}",
                    cpp_err.trim(),
                    rs_err.trim()
                ));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "{} of {} cases differ:\n{}",
        problems.len(),
        CASES.len(),
        problems.join("\n")
    );
    // Both kinds of input are present, so the test can fail either way.
    assert!(
        rejected > 10 && rejected < CASES.len() - 10,
        "rejected {rejected} of {}",
        CASES.len()
    );
}
