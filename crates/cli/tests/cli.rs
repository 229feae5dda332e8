//! The `ultrares` binary: `info`, and one-line errors with exit code 2 on bad arguments.

use std::process::Command;

fn ultrares(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_ultrares"))
        .args(args)
        .output()
        .expect("run ultrares")
}

#[test]
fn info_lists_the_enabled_backends() {
    let out = ultrares(&["info"]);
    assert!(out.status.success());
    let s = String::from_utf8(out.stdout).unwrap();
    assert!(
        s.starts_with(&format!("ultrares {}", env!("CARGO_PKG_VERSION"))),
        "{s}"
    );
    if cfg!(feature = "ndarray") {
        assert!(
            s.contains("backends: ndarray") && s.contains("ndarray: cpu ("),
            "{s}"
        );
    }
}

#[test]
fn info_json_is_machine_readable() {
    let out = ultrares(&["info", "--json"]);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));
    assert!(v["backends"].is_array() && v["devices"].is_array());
}

#[test]
fn bad_arguments_exit_2_with_one_line() {
    for args in [&["frobnicate"][..], &["info", "--nope"], &[]] {
        let out = ultrares(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("error:"), "{err}");
    }
}

#[test]
fn help_and_version_succeed() {
    assert!(ultrares(&["--help"]).status.success());
    let v = ultrares(&["--version"]);
    assert!(v.status.success());
    assert!(
        String::from_utf8(v.stdout)
            .unwrap()
            .contains(env!("CARGO_PKG_VERSION"))
    );
}
