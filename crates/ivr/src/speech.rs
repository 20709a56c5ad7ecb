//! Danish read-outs as prompt sequences. Each item names a recorded prompt (a file stem
//! under the language's prompt directory): numbers are assembled the Danish way, ones
//! before tens ("tre og tyve" for 23), dates as "onsdag den anden december".

use jiff::civil::{Date, Weekday};

/// A number 0–999 as prompts: `["3", "og", "20"]` for 23, `["2", "100", "og", "5"]` for 205.
#[must_use]
pub fn number(n: u16) -> Vec<String> {
    let n = n.min(999);
    let mut out = Vec::new();
    let hundreds = n / 100;
    let rest = n % 100;
    if hundreds > 0 {
        if hundreds > 1 {
            out.push(hundreds.to_string());
        }
        out.push("100".to_owned());
        if rest > 0 {
            out.push("og".to_owned());
        }
    }
    if rest > 0 || n == 0 {
        if rest <= 20 || rest.is_multiple_of(10) {
            out.push(rest.to_string());
        } else {
            out.push((rest % 10).to_string());
            out.push("og".to_owned());
            out.push((rest - rest % 10).to_string());
        }
    }
    out
}

/// A weekday's prompt: its Danish name with ø spelt oe, as file stems are ASCII.
fn weekday(d: Weekday) -> String {
    calendar::danish::weekday(d).replace('ø', "oe")
}

/// A date as prompts: `["onsdag", "den", "ordinal-2", "december"]`.
#[must_use]
pub fn date(d: Date) -> Vec<String> {
    vec![
        weekday(d.weekday()),
        "den".to_owned(),
        format!("ordinal-{}", d.day()),
        calendar::danish::month(d.month()).to_owned(),
    ]
}

/// "Du er nummer 3 i køen."
#[must_use]
pub fn queue_position(position: u16) -> Vec<String> {
    let mut out = vec!["du-er-nummer".to_owned()];
    out.extend(number(position));
    out.push("i-koeen".to_owned());
    out
}

/// "Vi ringer dig op senest onsdag den anden december."
#[must_use]
pub fn callback_by(d: Date) -> Vec<String> {
    let mut out = vec!["vi-ringer-dig-op-senest".to_owned()];
    out.extend(date(d));
    out
}

/// Every prompt name the read-outs can use, for checking a prompt set is complete.
#[must_use]
pub fn all_prompt_names() -> Vec<String> {
    let mut names: Vec<String> = (0..=20).map(|n: u16| n.to_string()).collect();
    names.extend([30, 40, 50, 60, 70, 80, 90, 100].map(|n: u16| n.to_string()));
    names.extend(["og", "den", "du-er-nummer", "i-koeen", "vi-ringer-dig-op-senest"].map(str::to_owned));
    names.extend((1..=31).map(|d| format!("ordinal-{d}")));
    names.extend((1..=12).map(|m| calendar::danish::month(m).to_owned()));
    names.extend(
        [
            Weekday::Monday,
            Weekday::Tuesday,
            Weekday::Wednesday,
            Weekday::Thursday,
            Weekday::Friday,
            Weekday::Saturday,
            Weekday::Sunday,
        ]
        .map(|d| weekday(d).to_owned()),
    );
    names
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date as d;

    #[test]
    fn numbers_are_said_the_danish_way() {
        let s = |n| number(n).join(" ");
        assert_eq!(s(0), "0");
        assert_eq!(s(3), "3");
        assert_eq!(s(17), "17");
        assert_eq!(s(20), "20");
        assert_eq!(s(23), "3 og 20");
        assert_eq!(s(50), "50");
        assert_eq!(s(99), "9 og 90");
        assert_eq!(s(100), "100");
        assert_eq!(s(105), "100 og 5");
        assert_eq!(s(245), "2 100 og 5 og 40");
    }

    #[test]
    fn every_read_out_uses_only_known_prompts() {
        let known = all_prompt_names();
        for n in 0..=999 {
            for p in number(n) {
                assert!(known.contains(&p), "{n}: {p}");
            }
        }
        let mut day = d(2026, 1, 1);
        for _ in 0..366 {
            for p in callback_by(day) {
                assert!(known.contains(&p), "{day}: {p}");
            }
            day = day.tomorrow().expect("date");
        }
    }

    #[test]
    fn queue_and_callback_sentences() {
        assert_eq!(queue_position(3).join(" "), "du-er-nummer 3 i-koeen");
        assert_eq!(callback_by(d(2026, 12, 2)).join(" "), "vi-ringer-dig-op-senest onsdag den ordinal-2 december");
    }
}
