//! A `#![no_std] #![no_main]` firmware image for `thumbv7em-none-eabihf` (Cortex-M4F) that links
//! every amikit library crate with default features off (no `alloc`, no `std`), a panic handler
//! and **no global allocator**, and calls into each one. If any crate needed a heap, the link
//! would fail with "no global memory allocator found".
//!
//! Build it as CI does:
//!
//! ```text
//! cargo build -p firmware-check --release --target thumbv7em-none-eabihf
//! ```
//!
//! On the host the same calls run from an ordinary `main`, so that `cargo build --workspace`,
//! clippy and the tests treat it like any other binary. `.ci/firmware-size` links one crate at a
//! time (`--no-default-features --features NAME`) and reports each one's `.text` size.
#![cfg_attr(target_os = "none", no_std, no_main)]

mod exercise;

#[cfg(target_os = "none")]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo<'_>) -> ! {
    loop {
        core::hint::spin_loop();
    }
}

/// Reset entry point: runs every crate's exercise so that none of it is dead code, then parks.
#[cfg(target_os = "none")]
#[allow(unsafe_code)] // `no_mangle` is an unsafe attribute: the linker needs the `_start` symbol.
#[unsafe(no_mangle)]
pub extern "C" fn _start() -> ! {
    let seed = core::hint::black_box(0x5A_u32);
    core::hint::black_box(exercise::run(seed));
    loop {
        core::hint::spin_loop();
    }
}

#[cfg(not(target_os = "none"))]
fn main() {
    let digest = exercise::run(core::hint::black_box(0x5A));
    println!("firmware-check exercised every linked crate (digest {digest:#010x})");
}
