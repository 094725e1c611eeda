// SPDX-License-Identifier: MPL-2.0
//! The face meta: the faces `reenactfacetrack` found in a buffer, attached to that buffer for
//! the elements downstream (`reenactfaceswap`, `reenactreframe`). GStreamer 1.22 has no
//! analytics meta, so this is a custom `GstMeta` (API `GstReenactFaceMetaAPI`, implementation
//! `GstReenactFaceMeta`). Coordinates are pixels of the frame it was computed on, whose size
//! the meta records; a copy transform (buffer copy) keeps it, any other transform drops it.
//!
//! The FFI lives in the private `imp` module, the only code of this crate allowed `unsafe`.

use std::fmt;

/// Number of face mesh landmarks per face.
pub const LANDMARK_COUNT: usize = 468;

/// Number of BlazeFace keypoints per face.
pub const KEYPOINT_COUNT: usize = 6;

/// An axis-aligned box in frame pixels.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct FaceBox {
    /// Left.
    pub x: f32,
    /// Top.
    pub y: f32,
    /// Width.
    pub w: f32,
    /// Height.
    pub h: f32,
}

impl FaceBox {
    /// The smallest box holding every point.
    pub fn around(points: impl IntoIterator<Item = (f32, f32)>) -> Option<Self> {
        let mut min = (f32::INFINITY, f32::INFINITY);
        let mut max = (f32::NEG_INFINITY, f32::NEG_INFINITY);
        for (x, y) in points {
            min = (min.0.min(x), min.1.min(y));
            max = (max.0.max(x), max.1.max(y));
        }
        (min.0.is_finite() && max.0.is_finite() && min.1.is_finite() && max.1.is_finite()).then_some(Self {
            x: min.0,
            y: min.1,
            w: max.0 - min.0,
            h: max.1 - min.1,
        })
    }

    /// Intersection over union; 0 for empty boxes.
    pub fn iou(&self, other: &Self) -> f32 {
        let ix = (self.x + self.w).min(other.x + other.w) - self.x.max(other.x);
        let iy = (self.y + self.h).min(other.y + other.h) - self.y.max(other.y);
        if ix <= 0.0 || iy <= 0.0 {
            return 0.0;
        }
        let inter = ix * iy;
        let union = self.w * self.h + other.w * other.h - inter;
        if union > 0.0 {
            inter / union
        } else {
            0.0
        }
    }

    /// Centre point.
    pub fn centre(&self) -> (f32, f32) {
        (self.x + self.w / 2.0, self.y + self.h / 2.0)
    }
}

/// One tracked face.
#[derive(Debug, Clone, PartialEq)]
pub struct Face {
    /// Stable id of the face across frames (starts at 1).
    pub track_id: u32,
    /// Face-presence probability, 0..1.
    pub confidence: f32,
    /// Box around the landmarks, frame pixels.
    pub bbox: FaceBox,
    /// The 468 MediaPipe face-mesh landmarks: x, y in frame pixels, z relative depth in the same
    /// scale (smaller is closer).
    pub landmarks: Vec<[f32; 3]>,
    /// BlazeFace keypoints in frame pixels: eye (image left), eye (image right), nose tip, mouth
    /// centre, ear tragion (image left), ear tragion (image right).
    pub keypoints: [(f32, f32); KEYPOINT_COUNT],
}

/// The faces of one buffer.
#[repr(transparent)]
pub struct FaceMeta(imp::FaceMeta);

impl FaceMeta {
    /// Attaches `faces`, found on a `width` x `height` frame, to `buffer`.
    pub fn add(
        buffer: &mut gst::BufferRef,
        width: u32,
        height: u32,
        faces: Vec<Face>,
    ) -> gst::MetaRefMut<'_, Self, gst::meta::Standalone> {
        imp::add(buffer, imp::FaceMetaParams { width, height, faces })
    }

    /// The faces, best-tracked first.
    pub fn faces(&self) -> &[Face] {
        &self.0.faces
    }

    /// Width of the frame the coordinates refer to.
    pub fn width(&self) -> u32 {
        self.0.width
    }

    /// Height of the frame the coordinates refer to.
    pub fn height(&self) -> u32 {
        self.0.height
    }
}

impl fmt::Debug for FaceMeta {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FaceMeta")
            .field("width", &self.width())
            .field("height", &self.height())
            .field(
                "faces",
                &self.faces().iter().map(|face| (face.track_id, face.confidence, face.bbox)).collect::<Vec<_>>(),
            )
            .finish()
    }
}

#[allow(unsafe_code)]
mod imp {
    use std::mem;
    use std::ptr;
    use std::sync::LazyLock;

    use gst::glib;
    use gst::glib::translate::{from_glib, IntoGlib};
    use gst::prelude::*;

    use super::Face;

    /// What `add` hands to the init function.
    pub(super) struct FaceMetaParams {
        pub(super) width: u32,
        pub(super) height: u32,
        pub(super) faces: Vec<Face>,
    }

    /// The C struct: `GstMeta` header, then Rust fields initialised in `init`, dropped in `free`.
    #[repr(C)]
    #[derive(Debug)]
    pub struct FaceMeta {
        parent: gst::ffi::GstMeta,
        pub(super) width: u32,
        pub(super) height: u32,
        pub(super) faces: Vec<Face>,
    }

    // SAFETY: the fields are plain owned data; GStreamer gives shared access only through `&`.
    unsafe impl Send for super::FaceMeta {}
    // SAFETY: as above; nothing has interior mutability.
    unsafe impl Sync for super::FaceMeta {}

    // SAFETY: `FaceMeta` is `repr(C)` with a `GstMeta` header and registered with that size.
    unsafe impl MetaAPI for super::FaceMeta {
        type GstType = FaceMeta;

        fn meta_api() -> glib::Type {
            api_type()
        }
    }

    pub(super) fn add(
        buffer: &mut gst::BufferRef,
        params: FaceMetaParams,
    ) -> gst::MetaRefMut<'_, super::FaceMeta, gst::meta::Standalone> {
        let mut params = mem::ManuallyDrop::new(params);
        // SAFETY: `init` moves the params out exactly once; the returned pointer is a meta of our
        // registered type attached to `buffer`.
        unsafe {
            let meta = gst::ffi::gst_buffer_add_meta(
                buffer.as_mut_ptr(),
                meta_info(),
                &mut *params as *mut FaceMetaParams as glib::ffi::gpointer,
            ) as *mut FaceMeta;
            super::FaceMeta::from_mut_ptr(buffer, meta)
        }
    }

    fn api_type() -> glib::Type {
        static TYPE: LazyLock<glib::Type> = LazyLock::new(|| {
            // SAFETY: a static name and an empty, NULL-terminated tag list.
            let t = unsafe {
                from_glib(gst::ffi::gst_meta_api_type_register(
                    c"GstReenactFaceMetaAPI".as_ptr(),
                    [ptr::null::<std::os::raw::c_char>()].as_ptr() as *mut *const _,
                ))
            };
            assert_ne!(t, glib::Type::INVALID, "registering GstReenactFaceMetaAPI");
            t
        });
        *TYPE
    }

    unsafe extern "C" fn init(
        meta: *mut gst::ffi::GstMeta,
        params: glib::ffi::gpointer,
        _buffer: *mut gst::ffi::GstBuffer,
    ) -> glib::ffi::gboolean {
        if params.is_null() {
            return false.into_glib();
        }
        let meta = &mut *(meta as *mut FaceMeta);
        let params = ptr::read(params as *const FaceMetaParams);
        ptr::write(&mut meta.width, params.width);
        ptr::write(&mut meta.height, params.height);
        ptr::write(&mut meta.faces, params.faces);
        true.into_glib()
    }

    unsafe extern "C" fn free(meta: *mut gst::ffi::GstMeta, _buffer: *mut gst::ffi::GstBuffer) {
        let meta = &mut *(meta as *mut FaceMeta);
        ptr::drop_in_place(&mut meta.faces);
    }

    unsafe extern "C" fn transform(
        dest: *mut gst::ffi::GstBuffer,
        meta: *mut gst::ffi::GstMeta,
        _buffer: *mut gst::ffi::GstBuffer,
        type_: glib::ffi::GQuark,
        _data: glib::ffi::gpointer,
    ) -> glib::ffi::gboolean {
        // Only a plain copy keeps pixel coordinates valid; scaling or cropping drops the meta.
        if type_ != glib::Quark::from_str("gst-copy").into_glib() {
            return false.into_glib();
        }
        let meta = &*(meta as *const FaceMeta);
        let params = FaceMetaParams { width: meta.width, height: meta.height, faces: meta.faces.clone() };
        add(gst::BufferRef::from_mut_ptr(dest), params);
        true.into_glib()
    }

    fn meta_info() -> *const gst::ffi::GstMetaInfo {
        struct MetaInfo(ptr::NonNull<gst::ffi::GstMetaInfo>);
        // SAFETY: the registered info is immutable and lives for the process.
        unsafe impl Send for MetaInfo {}
        // SAFETY: as above.
        unsafe impl Sync for MetaInfo {}

        static META_INFO: LazyLock<MetaInfo> = LazyLock::new(|| {
            // SAFETY: static name, our size and functions matching GStreamer's signatures.
            let info = unsafe {
                gst::ffi::gst_meta_register(
                    api_type().into_glib(),
                    c"GstReenactFaceMeta".as_ptr(),
                    mem::size_of::<FaceMeta>(),
                    Some(init),
                    Some(free),
                    Some(transform),
                )
            };
            MetaInfo(ptr::NonNull::new(info as *mut gst::ffi::GstMetaInfo).expect("registering GstReenactFaceMeta"))
        });
        META_INFO.0.as_ptr()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn face(id: u32) -> Face {
        Face {
            track_id: id,
            confidence: 0.9,
            bbox: FaceBox { x: 1.0, y: 2.0, w: 3.0, h: 4.0 },
            landmarks: vec![[1.0, 2.0, 3.0]; LANDMARK_COUNT],
            keypoints: [(5.0, 6.0); KEYPOINT_COUNT],
        }
    }

    #[test]
    fn meta_round_trips_and_survives_a_copy() {
        gst::init().expect("gst init");
        let mut buffer = gst::Buffer::with_size(16).expect("buffer");
        FaceMeta::add(buffer.get_mut().expect("writable"), 640, 360, vec![face(7), face(8)]);
        let meta = buffer.meta::<FaceMeta>().expect("meta attached");
        assert_eq!((meta.width(), meta.height()), (640, 360));
        assert_eq!(meta.faces().iter().map(|f| f.track_id).collect::<Vec<_>>(), [7, 8]);
        assert_eq!(meta.faces()[0], face(7));

        let copy = buffer.copy();
        let copied = copy.meta::<FaceMeta>().expect("copied with the buffer");
        assert_eq!(copied.faces(), meta.faces());
        drop(buffer);
        assert_eq!(copied.faces()[1].landmarks.len(), LANDMARK_COUNT);
    }
}
