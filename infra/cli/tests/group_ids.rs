//! Group ids given on the command line are checked before anything else happens.

use std::process::Command;

#[test]
fn link_refuses_a_group_id_that_is_not_one_naming_the_format() {
    for bad in ["x/../cld-victim", "cld-1?x=1", "<img src=x>", ""] {
        let output = Command::new(env!("CARGO_BIN_EXE_connector"))
            .args([
                "link",
                "hubspot",
                "--group",
                bad,
                "--config",
                "/nonexistent/c.yaml",
            ])
            .output()
            .expect("connector runs");
        assert!(!output.status.success(), "{bad:?} accepted");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("--group: "), "{bad:?}: {stderr}");
        assert!(stderr.contains("ASCII letters, digits"), "{stderr}");
        assert!(
            !stderr.contains("/nonexistent"),
            "checked before the configuration is read: {stderr}"
        );
        assert!(String::from_utf8_lossy(&output.stdout).is_empty());
    }
}
