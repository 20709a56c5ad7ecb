//! The `svar calendar` command-line contract (issue 4), run against the binary with the
//! demo municipality's calendar.

use std::process::Command;

fn svar(args: &[&str]) -> (bool, String, String) {
    let bin = std::env::var("SVAR_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_svar").to_owned());
    let out = Command::new(bin).args(args).output().expect("run svar");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn holidays_csv_lists_both_kinds_for_one_date() {
    let (ok, out, _) = svar(&["calendar", "holidays", "2028"]);
    assert!(ok);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "date,name_da,kind");
    assert!(lines.contains(&"2028-06-05,2. pinsedag,public"));
    assert!(lines.contains(&"2028-06-05,grundlovsdag,closed"));
    assert!(lines.contains(&"2028-05-26,fredag efter kristi himmelfartsdag,closed"));
    assert!(lines.contains(&"2028-05-01,1. maj (fra kl. 12.00),closed"));
    let (_, out2023, _) = svar(&["calendar", "holidays", "2023"]);
    assert!(out2023.contains("2023-05-05,store bededag,public"));
    let (_, out2024, _) = svar(&["calendar", "holidays", "2024"]);
    assert!(!out2024.contains("store bededag"));
}

#[test]
fn deadline_output_and_department_hours() {
    let cases = [
        (vec!["2025-03-07T12:00:00+01:00"], "day0=2025-03-07 deadline=2025-03-11T23:59:59+01:00"),
        (vec!["2025-03-07T16:30:00+01:00"], "day0=2025-03-10 deadline=2025-03-12T23:59:59+01:00"),
        (vec!["2025-03-28T11:00:00Z"], "day0=2025-03-28 deadline=2025-04-01T23:59:59+02:00"),
        // Borgerservice closes at 13:00 on Fridays too, but opens at 10:00
        (
            vec!["2025-03-07T12:30:00+01:00", "--department", "borgerservice"],
            "day0=2025-03-07 deadline=2025-03-11T23:59:59+01:00",
        ),
        // the 23 December override: the switchboard closes at noon
        (vec!["2025-12-23T12:30:00+01:00"], "day0=2025-12-29 deadline=2026-01-02T23:59:59+01:00"),
    ];
    for (args, want) in cases {
        let mut a = vec!["calendar", "deadline"];
        a.extend(args.iter().copied());
        let (ok, out, err) = svar(&a);
        assert!(ok, "{args:?}: {err}");
        assert_eq!(out.trim(), want, "{args:?}");
    }
}

#[test]
fn open_or_closed_until() {
    let (_, out, _) = svar(&["calendar", "open", "omstillingen", "2025-03-07T12:00:00+01:00"]);
    assert_eq!(out.trim(), "open");
    let (_, out, _) = svar(&["calendar", "open", "omstillingen", "2025-04-16T16:00:00+02:00"]);
    assert_eq!(out.trim(), "closed until 2025-04-22T09:00:00+02:00");
    // 1 May closes at noon in the demo
    let (_, out, _) = svar(&["calendar", "open", "omstillingen", "2025-05-01T12:30:00+02:00"]);
    assert_eq!(out.trim(), "closed until 2025-05-02T09:00:00+02:00");
    let (_, out, _) = svar(&["calendar", "open", "byggeri", "2025-03-13T12:30:00+01:00"]);
    assert_eq!(out.trim(), "closed until 2025-03-13T13:00:00+01:00");
}

#[test]
fn bad_input_is_refused_with_a_clear_message() {
    let (ok, _, err) = svar(&["calendar", "deadline", "tomorrow"]);
    assert!(!ok);
    assert!(err.contains("RFC 3339"), "{err}");
    let (ok, _, err) = svar(&["calendar", "open", "nope", "2025-03-07T12:00:00+01:00"]);
    assert!(!ok);
    assert!(err.contains("no department"), "{err}");
}
