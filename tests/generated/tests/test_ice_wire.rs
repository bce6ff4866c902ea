//! The request a generated proxy sends is the request ZeroC sends: for an
//! idempotent operation (mode 2 on the wire), a normal one with enums, one
//! with structs, and class graphs in the sliced format (a three-level
//! class with optional members and a polymorphic member) and the compact
//! one (a struct holding a chain), a raw TCP listener captures the first request of a
//! ZeroC Python client and of a Rust client of `slice/Test.ice`, in
//! encodings 1.1 and 1.0, and the messages must be equal byte for byte
//! (the request id aside).

mod support;

use generated_check::test_ice::test::{self as t, inner};
use ice_proto::communicator::Communicator;
use ice_proto::encoding::{Class, EncodingVersion};
use ice_proto::properties::Properties;
use std::error::Error;
use std::process::Stdio;
use std::time::Duration;
use support::{capture, TestResult, PYTHON};
use tokio::net::TcpListener;
use tokio::process::Command;

const PY_CLIENT: &str = "import Ice, sys\n\
Ice.loadSlice(sys.argv[1])\n\
import Test\n\
init = Ice.InitializationData()\n\
init.properties = Ice.createProperties()\n\
init.properties.setProperty('Ice.Default.EncodingVersion', sys.argv[3])\n\
with Ice.initialize(init) as ic:\n\
\x20   t = Test.TesterPrx.uncheckedCast(ic.stringToProxy(sys.argv[2]))\n\
\x20   op = sys.argv[4]\n\
\x20   if op == 'greet':\n\
\x20       t.greet('x')\n\
\x20   elif op == 'opEnums':\n\
\x20       t.opEnums(Test.Inner.Color.Blue, Test.Size.Large)\n\
\x20   elif op == 'opSliced':\n\
\x20       t.opSliced(Test.Leaf('leaf', 5, 2.5, 'n', Test.Inner.Point(7, 8), Test.Middle('mid', Ice.Unset, 1.0, Ice.Unset)))\n\
\x20   elif op == 'opWrapper':\n\
\x20       t.opWrapper(Test.Wrapper('w', Test.Node(7, Test.Node(8, None))))\n\
\x20   else:\n\
\x20       t.opStructs(Test.Line(Test.Inner.Point(1, 2), Test.Inner.Point(-3, 4)), Test.Inner.Deep.Tag('deep', Test.Inner.Color.Red))\n";

async fn python_request(op: &str, encoding: &str) -> Result<Vec<u8>, Box<dyn Error>> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let ice = support::crate_dir().join("slice/Test.ice");
    let mut child = Command::new(PYTHON)
        .arg("-c")
        .arg(PY_CLIENT)
        .arg(&ice)
        .arg(format!("tester:tcp -h 127.0.0.1 -p {port}"))
        .arg(encoding)
        .arg(op)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    let msg = tokio::time::timeout(Duration::from_secs(30), capture(&listener)).await??;
    let _ = child.kill().await;
    Ok(msg)
}

async fn rust_request(op: &str, encoding: EncodingVersion) -> Result<Vec<u8>, Box<dyn Error>> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let communicator = Communicator::new(Properties::new());
    let prx =
        support::loopback_proxy(&communicator, "tester", port)?.ice_encoding_version(encoding);
    let tp = t::TesterPrx::unchecked_cast(prx);
    let op = op.to_string();
    let call = tokio::spawn(async move {
        // No reply ever comes; the call is dropped once captured.
        let _ = match op.as_str() {
            "greet" => tp.greet("x").await.map(|_| ()),
            "opSliced" => tp.op_sliced(leaf().as_ref()).await.map(|_| ()),
            "opWrapper" => tp
                .op_wrapper(&t::Wrapper {
                    name: "w".into(),
                    node: Some(Class::from_value(t::Node {
                        value: 7,
                        next: Some(Class::from_value(t::Node {
                            value: 8,
                            next: None,
                        })),
                    })),
                })
                .await
                .map(|_| ()),
            "opEnums" => tp
                .op_enums(inner::Color::Blue, t::Size::Large)
                .await
                .map(|_| ()),
            _ => tp
                .op_structs(
                    &t::Line {
                        from: inner::Point { x: 1, y: 2 },
                        to: inner::Point { x: -3, y: 4 },
                    },
                    &inner::deep::Tag {
                        label: "deep".into(),
                        color: inner::Color::Red,
                    },
                )
                .await
                .map(|_| ()),
        };
    });
    let msg = tokio::time::timeout(Duration::from_secs(30), capture(&listener)).await??;
    call.abort();
    communicator.destroy().await;
    Ok(msg)
}

fn leaf() -> Option<Class<t::Base>> {
    Some(Class::from_value(t::Leaf {
        base: t::Middle {
            base: t::Base {
                name: "leaf".into(),
                opt: Some(5),
            },
            weight: 2.5,
            note: Some("n".into()),
        },
        p: inner::Point { x: 7, y: 8 },
        other: Some(Class::from_value(t::Middle {
            base: t::Base {
                name: "mid".into(),
                opt: None,
            },
            weight: 1.0,
            note: None,
        })),
    }))
}

/// The message with its request id (bytes 14..18) zeroed.
fn without_request_id(mut msg: Vec<u8>) -> Vec<u8> {
    for b in msg.iter_mut().skip(14).take(4) {
        *b = 0;
    }
    msg
}

async fn same_request(op: &str) -> TestResult {
    for (enc, text) in [
        (EncodingVersion::V1_1, "1.1"),
        (EncodingVersion::V1_0, "1.0"),
    ] {
        let zeroc = python_request(op, text).await?;
        let ours = rust_request(op, enc).await?;
        println!("{op} {text}: ZeroC {zeroc:?}");
        println!("{op} {text}: Rust  {ours:?}");
        assert_eq!(
            without_request_id(ours),
            without_request_id(zeroc),
            "{op} in {text}"
        );
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_ice_wire_idempotent_request_as_zeroc_sends_it() -> TestResult {
    same_request("greet").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_ice_wire_enum_request_as_zeroc_sends_it() -> TestResult {
    same_request("opEnums").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_ice_wire_sliced_class_request_as_zeroc_sends_it() -> TestResult {
    same_request("opSliced").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_ice_wire_compact_class_request_as_zeroc_sends_it() -> TestResult {
    same_request("opWrapper").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_ice_wire_struct_request_as_zeroc_sends_it() -> TestResult {
    same_request("opStructs").await
}
