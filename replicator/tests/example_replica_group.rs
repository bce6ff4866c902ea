//! The `replica_group` example runs and shows a failover keeping the
//! state: the standby follows the active member, then takes over.

use std::process::Command;

#[test]
fn replica_group_example_fails_over_with_the_state() {
    let exe = std::env::current_exe().expect("test executable");
    // <target>/<profile>/deps/<this test> -> <target>/<profile>/examples/
    let example = exe
        .parent()
        .and_then(|deps| deps.parent())
        .map(|dir| dir.join("examples").join("replica_group"))
        .expect("target folder");
    assert!(
        example.is_file(),
        "{} is missing: build it with `cargo build -p replicator --examples`",
        example.display()
    );
    let out = Command::new(&example).output().expect("run replica_group");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        stdout,
        "replicator holds 1 item(s)\n\
         standby B: {\"s1\": Session { caller: \"alice\", callee: \"bob\", answered: true }}\n\
         active B: [\"s1\", \"s3\"]\n"
    );
}
