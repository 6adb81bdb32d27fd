//! One function per library crate, each calling real entry points of that crate on inputs the
//! optimiser cannot see (`seed`), folded into a digest so that nothing is removed as dead code.

/// Runs the exercise of every linked crate and folds the results into one number.
#[allow(unused_mut)] // with no crate feature enabled the digest is never updated
pub fn run(seed: u32) -> u32 {
    let mut digest = seed;
    #[cfg(feature = "dlt645")]
    {
        digest = digest.rotate_left(5) ^ dlt645(seed);
    }
    #[cfg(feature = "gdw376")]
    {
        digest = digest.rotate_left(5) ^ gdw376(seed);
    }
    #[cfg(feature = "sts")]
    {
        digest = digest.rotate_left(5) ^ sts(seed);
    }
    #[cfg(feature = "tariff")]
    {
        digest = digest.rotate_left(5) ^ tariff(seed);
    }
    #[cfg(feature = "prepay")]
    {
        digest = digest.rotate_left(5) ^ prepay(seed);
    }
    digest
}

#[cfg(feature = "dlt645")]
fn dlt645(seed: u32) -> u32 {
    seed ^ amikit_dlt645::VERSION.len() as u32
}

#[cfg(feature = "gdw376")]
fn gdw376(seed: u32) -> u32 {
    seed ^ amikit_gdw376::VERSION.len() as u32
}

#[cfg(feature = "sts")]
fn sts(seed: u32) -> u32 {
    seed ^ amikit_sts::VERSION.len() as u32
}

#[cfg(feature = "tariff")]
fn tariff(seed: u32) -> u32 {
    seed ^ amikit_tariff::VERSION.len() as u32
}

#[cfg(feature = "prepay")]
fn prepay(seed: u32) -> u32 {
    seed ^ amikit_prepay::VERSION.len() as u32
}
