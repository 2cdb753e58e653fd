mod common;

use common::test_config;
use isogc::*;

#[test]
fn linked_list_survives_scavenges_and_major_gcs() {
    let platform = Platform::new(2).unwrap();
    let mut isolate = Isolate::new(&platform, test_config()).unwrap();
    let mut scope = HandleScope::new(&mut isolate);
    let node = scope
        .new_map(&ObjectLayout { name: "Node".into(), tagged_fields: 2, raw_bytes: 8, ..Default::default() })
        .unwrap();
    let head = scope.new_fixed_array(1).unwrap();
    for i in 0..20_000 {
        let mut inner = HandleScope::new(&mut scope);
        let n = inner.new_object(node).unwrap();
        inner.set(n, 0, Smi::from(i));
        let old = inner.get(head, 0);
        inner.set(n, 1, old);
        inner.write_bytes(n, 0, &(i as u64).to_le_bytes());
        inner.set(head, 0, n);
        // garbage
        let _ = inner.new_fixed_array(10).unwrap();
        if i % 5000 == 4999 {
            inner.collect_garbage(GcRequest::Major);
        }
    }
    let (minor, major) = scope.gc_counts();
    assert!(minor > 0 && major > 0, "{minor} {major}");
    let mut cur = scope.get(head, 0);
    let mut expect = 19_999;
    while let Some(o) = scope.cast::<Object, _>(cur) {
        assert_eq!(scope.get_smi(o, 0), Some(expect));
        let mut b = [0u8; 8];
        scope.read_bytes(o, 0, &mut b);
        assert_eq!(u64::from_le_bytes(b), expect as u64);
        cur = scope.get(o, 1);
        expect -= 1;
    }
    assert_eq!(expect, -1);
    assert!(scope.is_undefined(cur));
    println!("{:#?}", scope.heap_stats());
}
