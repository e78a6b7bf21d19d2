//! Numbers as the index stores and compares them: integers as i64 (u64 above
//! `i64::MAX`), others as f64, compared by value across representations.

use std::cmp::Ordering;

/// A number in the representation the index stores it in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Number {
    I64(i64),
    U64(u64),
    F64(f64),
}

impl Number {
    /// The narrowest representation holding the same value: i64, then u64, then f64.
    pub fn normalize(self) -> Self {
        match self {
            Number::U64(value) => match i64::try_from(value) {
                Ok(value) => Number::I64(value),
                Err(_) => Number::U64(value),
            },
            Number::I64(value) => Number::I64(value),
            Number::F64(value) => {
                let whole = value.fract() == 0.0;
                if whole && value >= i64::MIN as f64 && value <= i64::MAX as f64 {
                    Number::I64(value as i64)
                } else if whole && value >= 0.0 && value <= u64::MAX as f64 {
                    Number::U64(value as u64)
                } else {
                    Number::F64(value)
                }
            }
        }
    }
}

/// A number written in a query, as the index stores it; `None` for text that is not a
/// finite number.
pub fn parse_number(text: &str) -> Option<Number> {
    let value = if let Ok(value) = text.parse::<i64>() {
        Number::I64(value)
    } else if let Ok(value) = text.parse::<u64>() {
        Number::U64(value)
    } else {
        Number::F64(text.parse::<f64>().ok()?).normalize()
    };
    match value.normalize() {
        Number::F64(float) if !float.is_finite() => None,
        value => Some(value),
    }
}

/// A JSON number as the index stores it.
pub fn number_of(number: &serde_json::Number) -> Option<Number> {
    let value = if let Some(i) = number.as_i64() {
        Number::I64(i)
    } else if let Some(u) = number.as_u64() {
        Number::U64(u)
    } else {
        let f = number.as_f64()?;
        if !f.is_finite() {
            return None;
        }
        Number::F64(f)
    };
    Some(value.normalize())
}

/// Orders two numbers of any representation by value.
pub fn compare(a: Number, b: Number) -> Option<Ordering> {
    use Number::*;
    match (a, b) {
        (I64(x), I64(y)) => Some(x.cmp(&y)),
        (U64(x), U64(y)) => Some(x.cmp(&y)),
        (I64(x), U64(y)) => Some(i128::from(x).cmp(&i128::from(y))),
        (U64(x), I64(y)) => Some(i128::from(x).cmp(&i128::from(y))),
        (F64(x), F64(y)) => x.partial_cmp(&y),
        (F64(x), I64(y)) => x.partial_cmp(&(y as f64)),
        (F64(x), U64(y)) => x.partial_cmp(&(y as f64)),
        (I64(x), F64(y)) => (x as f64).partial_cmp(&y),
        (U64(x), F64(y)) => (x as f64).partial_cmp(&y),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_take_the_narrowest_representation() {
        assert_eq!(parse_number("42"), Some(Number::I64(42)));
        assert_eq!(parse_number("-7"), Some(Number::I64(-7)));
        assert_eq!(
            parse_number("18446744073709551615"),
            Some(Number::U64(u64::MAX))
        );
        assert_eq!(parse_number("5.0"), Some(Number::I64(5)));
        assert_eq!(parse_number("0.5"), Some(Number::F64(0.5)));
        assert_eq!(parse_number("inf"), None);
        assert_eq!(parse_number("NaN"), None);
        assert_eq!(parse_number("five"), None);
    }

    #[test]
    fn numbers_compare_by_value_across_representations() {
        assert_eq!(
            compare(Number::I64(-1), Number::U64(u64::MAX)),
            Some(Ordering::Less)
        );
        assert_eq!(
            compare(Number::F64(2.5), Number::I64(2)),
            Some(Ordering::Greater)
        );
        assert_eq!(
            compare(Number::U64(3), Number::F64(3.0)),
            Some(Ordering::Equal)
        );
    }
}
