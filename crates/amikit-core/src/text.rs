//! Serde through the text forms: values serialize with `Display` and deserialize from a string
//! with `FromStr`, so JSON and TOML show `"2024-02-29T22:30:00"` and `"-0.50"`.

use core::fmt;
use core::marker::PhantomData;
use core::str::FromStr;

/// A serde visitor that accepts a string and parses it with `T::from_str`.
pub(crate) struct TextVisitor<T>(pub(crate) PhantomData<T>, pub(crate) &'static str);

impl<T: FromStr> serde::de::Visitor<'_> for TextVisitor<T>
where
    T::Err: fmt::Display,
{
    type Value = T;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.1)
    }
    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<T, E> {
        v.parse().map_err(E::custom)
    }
}

/// `Serialize` with `collect_str` and `Deserialize` with [`TextVisitor`] for a type.
macro_rules! serde_as_text {
    ($t:ident, $what:literal) => {
        impl serde::Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
        impl<'de> serde::Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                d.deserialize_str($crate::text::TextVisitor(core::marker::PhantomData, $what))
            }
        }
    };
}
pub(crate) use serde_as_text;
