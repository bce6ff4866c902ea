//! `slice2rs`: the command-line front end of the Slice compiler.

fn main() {
    println!("slice2rs {}", slice_compiler::VERSION);
}
