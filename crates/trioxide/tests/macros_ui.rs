//! Compile-fail checks for `#[trioxide::main]` and `#[trioxide::test]`: each wrong option or
//! signature in `tests/ui/` must fail with the error in its `.stderr` file, pointing at the
//! offending token. Regenerate the expectations with `TRYBUILD=overwrite`.

#[test]
fn macro_errors_point_at_the_option() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*.rs");
}
