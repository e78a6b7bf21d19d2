//! Payment card numbers inside runs of digits: 13–19 digits that pass the Luhn check and
//! start as the card networks' numbers do, masked but for their last four digits.

/// Card numbers are written in groups of four (Amex: 4-6-5; 19 digits: 4-4-4-4-3).
const MIN_CARD_GROUP_DIGITS: usize = 3;

/// The run of digit groups with the card numbers in it masked, and how many there were;
/// `None` when it holds none.
/// Windows of consecutive groups are tried from the left, longest first, so that a card
/// number written after other numbers (`qty 2 4111 1111 1111 1111`) is still found, and
/// a 19-digit one is masked whole.
pub(super) fn mask_cards(run: &str) -> Option<(String, usize)> {
    let groups: Vec<(usize, usize)> = run
        .split([' ', '-'])
        .scan(0, |start, group| {
            let range = (*start, *start + group.len());
            *start += group.len() + 1;
            Some(range)
        })
        .collect();
    let mut masked = run.as_bytes().to_vec();
    let mut found = 0;
    let mut first = 0;
    while first < groups.len() {
        let mut digits = Vec::new();
        let mut card = None;
        for (last, &(start, end)) in groups.iter().enumerate().skip(first) {
            if end - start < MIN_CARD_GROUP_DIGITS {
                break;
            }
            digits.extend(run.as_bytes()[start..end].iter().map(|b| b - b'0'));
            if digits.len() > 19 {
                break;
            }
            if digits.len() >= 13 && (2..=6).contains(&digits[0]) && luhn_valid(&digits) {
                card = Some((last, digits.len()));
            }
        }
        let Some((last, card_digits)) = card else {
            first += 1;
            continue;
        };
        let mut to_mask = card_digits - 4;
        for byte in &mut masked[groups[first].0..groups[last].1] {
            if to_mask > 0 && byte.is_ascii_digit() {
                *byte = b'*';
                to_mask -= 1;
            }
        }
        found += 1;
        first = last + 1;
    }
    let masked = String::from_utf8(masked).expect("digits were replaced by ASCII");
    (found > 0).then_some((masked, found))
}

/// The Luhn check digit test that every payment card number passes.
fn luhn_valid(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &digit)| {
            let digit = u32::from(digit);
            if i % 2 == 1 {
                let doubled = digit * 2;
                if doubled > 9 { doubled - 9 } else { doubled }
            } else {
                digit
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::redact::testing::{assert_keeps, assert_redacts, redact};

    #[test]
    fn card_numbers_pass_the_luhn_check() {
        assert_redacts(&[
            ("paid with 4111111111111111.", "paid with ************1111."),
            ("card 4111 1111 1111 1111 ok", "card **** **** **** 1111 ok"),
            ("card 5500-0000-0000-0004", "card ****-****-****-0004"),
            ("amex 378282246310005", "amex ***********0005"),
            ("visa13 4222222222222", "visa13 *********2222"),
            ("qty 2 4111 1111 1111 1111", "qty 2 **** **** **** 1111"),
            (
                "4111 1111 1111 1111 5500 0000 0000 0004",
                "**** **** **** 1111 **** **** **** 0004",
            ),
            ("6011 0009 9013 9424 123", "**** **** **** 9424 123"),
            ("6011 0009 9013 9424 124", "**** **** **** ***4 124"),
            (
                "19 digits 6011000990139424124",
                "19 digits ***************4124",
            ),
            // Erring on the side of masking: a card number inside a longer dashed code.
            (
                "ref 4111-1111-1111-1111-1111",
                "ref ****-****-****-1111-1111",
            ),
        ]);
        assert_keeps(&[
            // 16 digits failing the Luhn check: an order id.
            "order 4111111111111112 shipped",
            "order 1234567812345678 shipped",
            // Luhn-valid, but epoch times in ms and ns start with 1.
            "ts=1700000000004 1764219600123456786",
            // Longer runs are not card numbers.
            "id 41111111111111110000",
            "x4111111111111111 4111111111111111y",
            "12 digits 411111111111",
            // Groups of fewer than three digits are not how cards are written.
            "4 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1",
            "٤١١١١١١١١١١١١١١١",
        ]);
    }

    #[test]
    fn each_card_in_a_run_counts() {
        assert_eq!(redact("4111111111111111-5500000000000004").1, 2);
    }

    #[test]
    fn luhn() {
        assert!(luhn_valid(&[7, 9, 9, 2, 7, 3, 9, 8, 7, 1, 3]));
        assert!(!luhn_valid(&[7, 9, 9, 2, 7, 3, 9, 8, 7, 1, 4]));
    }
}
