use isogc::*;
fn main() {
    let platform = Platform::new(1).unwrap();
    let mut isolate = Isolate::new(&platform, HeapConfig { verify_heap: true, ..HeapConfig::default() }).unwrap();
    let mut s = HandleScope::new(&mut isolate);
    let node = s.new_map(&ObjectLayout::new("Node", 2, 8).with_field_names(["left", "right"])).unwrap();
    let a = s.new_object(node).unwrap();
    let b = s.new_object(node).unwrap();
    s.set(a, 0, b);
    let n = s.new_number(3.5).unwrap();
    s.set(b, 1, n);
    let st = s.new_string("hello \"world\"\n").unwrap();
    s.set(a, 1, st);
    let arr = s.new_fixed_array(3).unwrap();
    s.set(arr, 0, a);
    s.set(arr, 1, Smi::from(7));
    let _g = s.global(arr);
    let _w = s.weak(b);
    let info = s.write_heap_snapshot_to("/tmp/snapex/a.heapsnapshot").unwrap();
    println!("{info:?}");
}
