//! What a visitor did with an item: the interaction kinds, their codes, names and aliases. The
//! bottom layer: the history, the formats, the model and the binding all read kinds from here.

use crate::error::{Error, Result};

/// What the visitor did with an item. The order is the strength of the signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum Kind {
    View = 0,
    Cart = 1,
    Purchase = 2,
}

/// Number of [`Kind`]s (rows of the kind embedding).
pub const KINDS: usize = 3;

impl Kind {
    /// The kind for a code (`0` view, `1` cart, `2` purchase).
    pub fn from_code(code: u8) -> Result<Kind> {
        match code {
            0 => Ok(Kind::View),
            1 => Ok(Kind::Cart),
            2 => Ok(Kind::Purchase),
            _ => Err(Error::UnknownKind(code.to_string())),
        }
    }

    /// The kind for a name (`view`, `cart` or `add_to_cart`, `purchase` or `buy`), case-insensitive.
    pub fn from_name(name: &str) -> Result<Kind> {
        match name.trim().to_ascii_lowercase().as_str() {
            "view" | "click" | "detail" => Ok(Kind::View),
            "cart" | "add_to_cart" | "addtocart" => Ok(Kind::Cart),
            "purchase" | "buy" | "transaction" | "order" => Ok(Kind::Purchase),
            _ => Err(Error::UnknownKind(name.to_string())),
        }
    }

    /// The short lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Kind::View => "view",
            Kind::Cart => "cart",
            Kind::Purchase => "purchase",
        }
    }
}

// Kinds cross JSON and JS by name ("view", "cart", "purchase"); reading accepts the aliases of
// `Kind::from_name`.
impl serde::Serialize for Kind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> core::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> serde::Deserialize<'de> for Kind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> core::result::Result<Kind, D::Error> {
        let name = String::deserialize(d)?;
        Kind::from_name(&name).map_err(serde::de::Error::custom)
    }
}
