//! Type errors inside the body point at the user's code, not at the attribute.

#[trioxide::main]
async fn main() -> Result<(), String> {
    let n: u32 = "not a number";
    let _ = n;
    Ok(1)
}
