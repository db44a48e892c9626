//! Property tests of the gate over random layouts in a byte buffer: it views only safe layouts,
//! a view reads exactly the bytes the layout names, and every kernel gives the same bits through
//! the zero-copy view and the copying path.

#![allow(clippy::disallowed_methods, clippy::disallowed_macros)]

use nocopy_core::gate::{self, CopyReason, RawLayout};
use nocopy_core::{
    AnyArray, AnyView, Axes, ByteOrder, DType, Element, Error, NEVER, Reduce, dispatch,
};
use proptest::prelude::*;

/// A layout, a buffer, and where in it the first element sits.
#[derive(Debug, Clone)]
struct Case {
    layout: RawLayout,
    bytes: Vec<u8>,
    offset: usize,
}

fn other_order() -> ByteOrder {
    if ByteOrder::NATIVE == ByteOrder::Little { ByteOrder::Big } else { ByteOrder::Little }
}

/// Byte offsets (relative to the first element) of the lowest and one past the highest byte.
fn span(shape: &[usize], strides: &[isize], item: usize) -> Option<(isize, isize)> {
    if shape.contains(&0) {
        return None;
    }
    let (mut lo, mut hi) = (0isize, 0isize);
    for (&n, &s) in shape.iter().zip(strides) {
        let d = (n as isize - 1) * s;
        if d < 0 { lo += d } else { hi += d }
    }
    Some((lo, hi + item as isize))
}

fn case() -> impl Strategy<Value = Case> {
    sized_case(&[5, 5, 5])
}

/// Layouts whose axis `k`, if present, has fewer than `max_len[k]` elements.
fn sized_case(max_len: &[usize]) -> impl Strategy<Value = Case> {
    let dtype = prop::sample::select(DType::ALL.to_vec());
    let axes: Vec<_> = max_len.iter().map(|&m| (0usize..m, -3isize..=3, 0usize..8)).collect();
    let dims = (0..=max_len.len()).prop_flat_map(move |ndim| axes[..ndim].to_vec());
    (dtype, dims, any::<bool>(), 0usize..9, any::<u64>(), 0usize..4).prop_map(
        |(dtype, dims, swapped, misalign, seed, slack)| {
            let item = dtype.itemsize();
            let shape: Vec<usize> = dims.iter().map(|d| d.0).collect();
            // Mostly whole-element strides; sometimes a byte more (a structured-array field).
            let strides: Vec<isize> =
                dims.iter().map(|&(_, k, odd)| k * item as isize + isize::from(odd == 0)).collect();
            let (lo, hi) = span(&shape, &strides, item).unwrap_or((0, 0));
            // Aligned more often than not, so that most cases reach the kernels.
            let misalign = misalign.saturating_sub(4);
            let offset = (-lo) as usize + misalign;
            let len = offset + hi.max(0) as usize + slack;
            let mut state = seed | 1;
            let bytes = (0..len)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    (state >> 24) as u8
                })
                .collect();
            let byte_order = if swapped { other_order() } else { ByteOrder::NATIVE };
            Case {
                layout: RawLayout { dtype, byte_order, shape, strides, writeable: false },
                bytes,
                offset,
            }
        },
    )
}

/// The bytes of element `index`, read by hand and put in native order.
fn element_bytes(c: &Case, index: &[usize]) -> Vec<u8> {
    let item = c.layout.dtype.itemsize();
    let pos = c.offset as isize
        + index.iter().zip(&c.layout.strides).map(|(&i, &s)| i as isize * s).sum::<isize>();
    let mut b = c.bytes[pos as usize..pos as usize + item].to_vec();
    if item > 1 && c.layout.byte_order != ByteOrder::NATIVE {
        b.reverse();
    }
    b
}

/// Every multi-index of a shape, in C order.
fn indices(shape: &[usize]) -> Vec<Vec<usize>> {
    let mut out = vec![vec![]];
    for &n in shape {
        out = out
            .into_iter()
            .flat_map(|p| (0..n).map(move |i| [p.clone(), vec![i]].concat()))
            .collect();
    }
    out
}

fn view_bytes_of(v: &AnyView<'_>) -> Vec<Vec<u8>> {
    dispatch!(v, a => a.iter().map(|&x| { let mut b = Vec::new(); x.write_ne_bytes(&mut b); b }).collect())
}

/// Every kernel over every axis choice, printed (Debug prints distinct floats distinctly).
fn all_results(v: &AnyView<'_>) -> Vec<String> {
    let ndim = v.shape().len();
    let mut choices = vec![Axes::All];
    choices.extend((0..ndim as isize).map(Axes::from));
    let mut out = Vec::new();
    for axis in choices {
        for skipna in [false, true] {
            let o = Reduce { axis: axis.clone(), keepdims: false, ddof: 1.0, skipna };
            out.push(dispatch!(v, a => format!(
                "{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}",
                nocopy_core::sum(a, &o, &NEVER).map(|r| r.values),
                nocopy_core::mean(a, &o, &NEVER).map(|r| r.values),
                nocopy_core::var(a, &o, &NEVER).map(|r| r.values),
                nocopy_core::min(a, &o, &NEVER).map(|r| r.values),
                nocopy_core::max(a, &o, &NEVER).map(|r| r.values),
                nocopy_core::argmin(a, &o, &NEVER).map(|r| r.values),
                nocopy_core::argmax(a, &o, &NEVER).map(|r| r.values),
                nocopy_core::describe(a, &o, &NEVER).map(|s| (s.count, s.std, s.max)),
            )));
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn the_gate_views_only_safe_layouts_and_reads_the_named_bytes(c in case()) {
        let l = &c.layout;
        let item = l.dtype.itemsize();
        let empty = l.shape.contains(&0);
        let data = c.bytes.as_ptr() as usize + c.offset;
        match gate::view_any_bytes(&c.bytes, c.offset, l) {
            Ok(v) => {
                prop_assert!(l.dtype.is_viewable());
                if !empty {
                    prop_assert!(item == 1 || l.byte_order == ByteOrder::NATIVE);
                    prop_assert_eq!(data % item, 0);
                    for (&n, &s) in l.shape.iter().zip(&l.strides) {
                        prop_assert!(n <= 1 || s % item as isize == 0);
                    }
                }
                let expected: Vec<Vec<u8>> = indices(&l.shape).iter().map(|i| element_bytes(&c, i)).collect();
                prop_assert_eq!(view_bytes_of(&v), expected);
            }
            Err(Error::CopyRequired(reason)) => {
                prop_assert!(!empty || !l.dtype.is_viewable());
                match reason {
                    CopyReason::Convert(dt) => prop_assert_eq!(dt, DType::F16),
                    CopyReason::ByteOrder(o) => prop_assert!(item > 1 && o != ByteOrder::NATIVE),
                    CopyReason::Misaligned { offset, align } => prop_assert_eq!(data % align, offset),
                    CopyReason::Stride { axis, stride, itemsize } => {
                        prop_assert!(l.shape[axis] > 1 && stride % itemsize as isize != 0);
                    }
                    CopyReason::Requested => prop_assert!(false, "never without copy=True"),
                }
            }
            Err(e) => prop_assert!(false, "unexpected error {e}"),
        }
    }

    #[test]
    fn the_copy_reads_the_same_values_in_c_order(c in case()) {
        let copy = gate::copy_bytes(&c.bytes, c.offset, &c.layout, &NEVER).unwrap();
        let v = copy.view();
        prop_assert_eq!(v.shape(), &c.layout.shape[..]);
        let got = view_bytes_of(&v);
        let expected: Vec<Vec<u8>> = indices(&c.layout.shape)
            .iter()
            .map(|i| {
                let b = element_bytes(&c, i);
                if c.layout.dtype == DType::F16 {
                    let h = half::f16::from_bits(u16::from_ne_bytes([b[0], b[1]]));
                    h.to_f32().to_ne_bytes().to_vec()
                } else {
                    b
                }
            })
            .collect();
        prop_assert_eq!(got, expected);
        let converted = matches!(copy, AnyArray::F32(_)) && c.layout.dtype == DType::F16;
        prop_assert!(converted || copy.view().dtype() == c.layout.dtype);
    }

    #[test]
    fn kernels_agree_bit_for_bit_through_view_and_copy(c in case()) {
        if let Ok(view) = gate::view_any_bytes(&c.bytes, c.offset, &c.layout) {
            let copy = gate::copy_bytes(&c.bytes, c.offset, &c.layout, &NEVER).unwrap();
            prop_assert_eq!(all_results(&view), all_results(&copy.view()));
        }
    }

    #[test]
    fn out_of_bounds_layouts_are_refused(c in case(), cut in 1usize..16) {
        let needed = span(&c.layout.shape, &c.layout.strides, c.layout.dtype.itemsize());
        if let Some((_, hi)) = needed {
            let end = c.offset + hi as usize;
            let short = &c.bytes[..end.saturating_sub(cut)];
            prop_assert!(matches!(gate::view_any_bytes(short, c.offset, &c.layout), Err(Error::Layout(_))));
            prop_assert!(matches!(gate::copy_bytes(short, c.offset, &c.layout, &NEVER), Err(Error::Layout(_))));
        }
    }
}

proptest! {
    // Lanes longer than a block: fewer cases, each larger.
    #![proptest_config(ProptestConfig::with_cases(40))]

    #[test]
    fn long_lanes_cross_blocks_identically_through_view_and_copy(c in sized_case(&[7000, 3])) {
        if let Ok(view) = gate::view_any_bytes(&c.bytes, c.offset, &c.layout) {
            let copy = gate::copy_bytes(&c.bytes, c.offset, &c.layout, &NEVER).unwrap();
            prop_assert_eq!(all_results(&view), all_results(&copy.view()));
        }
    }
}
