//! PNG files of camera frames: writing a frame's RGB, depth and segmentation images,
//! encoding an RGB image for a remote model, and reading a user's image for
//! `cap inspect`. The physics crate renders frames; their files are made here.

use std::io::BufWriter;
use std::path::{Path, PathBuf};

use cap_sim::labels::{SEG_BACKGROUND, SEG_OBJECT0, SEG_ROBOT, SEG_TABLE};
use cap_sim::prelude::Frame;

/// Writing a frame's images failed.
#[derive(Debug, thiserror::Error)]
pub enum FrameWriteError {
    /// Creating or writing the file failed.
    #[error("writing {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The PNG encoder refused the data.
    #[error("encoding {path}: {source}")]
    Png {
        /// The file.
        path: PathBuf,
        /// Why.
        source: png::EncodingError,
    },
}

/// Reading an image failed.
#[derive(Debug, thiserror::Error)]
pub enum PngReadError {
    /// The file cannot be opened.
    #[error("{path}: cannot open: {source}")]
    Open {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a PNG the decoder reads.
    #[error("{path}: not a PNG: {source}")]
    Decode {
        /// The file.
        path: PathBuf,
        /// Why.
        source: png::DecodingError,
    },
    /// The image is too large or in a layout cap does not read.
    #[error("{path}: {message}")]
    Unsupported {
        /// The file.
        path: PathBuf,
        /// What.
        message: String,
    },
}

/// The image paths of a written frame.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FramePaths {
    /// 8-bit RGB PNG.
    pub rgb: PathBuf,
    /// 16-bit grey PNG, millimetres (0 = no hit).
    pub depth: PathBuf,
    /// 8-bit RGB PNG, one colour per segmentation id (palette in [`seg_color`]).
    pub seg: PathBuf,
}

/// The display colour of a segmentation id in `*_seg.png`.
pub fn seg_color(id: u16) -> [u8; 3] {
    match id {
        SEG_BACKGROUND => [0, 0, 0],
        SEG_TABLE => [90, 90, 90],
        SEG_ROBOT => [200, 200, 200],
        i => {
            // Well-separated hues by golden-angle steps.
            let h = ((i - SEG_OBJECT0) as f32 * 0.618_034).fract() * 6.0;
            let x = 1.0 - ((h % 2.0) - 1.0).abs();
            let (r, g, b) = match h as u32 {
                0 => (1.0, x, 0.0),
                1 => (x, 1.0, 0.0),
                2 => (0.0, 1.0, x),
                3 => (0.0, x, 1.0),
                4 => (x, 0.0, 1.0),
                _ => (1.0, 0.0, x),
            };
            [
                (r * 235.0) as u8 + 20,
                (g * 235.0) as u8 + 20,
                (b * 235.0) as u8 + 20,
            ]
        }
    }
}

fn encode<W: std::io::Write>(
    out: W,
    w: u32,
    h: u32,
    color: png::ColorType,
    depth: png::BitDepth,
    data: &[u8],
) -> Result<(), png::EncodingError> {
    let mut enc = png::Encoder::new(out, w, h);
    enc.set_color(color);
    enc.set_depth(depth);
    let mut writer = enc.write_header()?;
    writer.write_image_data(data)?;
    writer.finish()
}

fn write_png(
    path: &Path,
    w: u32,
    h: u32,
    color: png::ColorType,
    depth: png::BitDepth,
    data: &[u8],
) -> Result<(), FrameWriteError> {
    let file = std::fs::File::create(path).map_err(|source| FrameWriteError::Io {
        path: path.to_owned(),
        source,
    })?;
    encode(BufWriter::new(file), w, h, color, depth, data).map_err(|source| FrameWriteError::Png {
        path: path.to_owned(),
        source,
    })
}

/// An 8-bit RGB image (`rgb` row-major, 3 bytes a pixel) as PNG bytes.
pub fn encode_rgb(rgb: &[u8], w: u32, h: u32) -> Result<Vec<u8>, png::EncodingError> {
    let mut out = Vec::new();
    encode(
        &mut out,
        w,
        h,
        png::ColorType::Rgb,
        png::BitDepth::Eight,
        rgb,
    )?;
    Ok(out)
}

/// Write `<stem>_rgb.png`, `<stem>_depth.png` and `<stem>_seg.png` of `frame` into
/// `dir` (made if missing).
pub fn write_pngs(frame: &Frame, dir: &Path, stem: &str) -> Result<FramePaths, FrameWriteError> {
    std::fs::create_dir_all(dir).map_err(|source| FrameWriteError::Io {
        path: dir.to_owned(),
        source,
    })?;
    let paths = FramePaths {
        rgb: dir.join(format!("{stem}_rgb.png")),
        depth: dir.join(format!("{stem}_depth.png")),
        seg: dir.join(format!("{stem}_seg.png")),
    };
    let (w, h) = (frame.width, frame.height);
    let eight = png::BitDepth::Eight;
    write_png(&paths.rgb, w, h, png::ColorType::Rgb, eight, &frame.rgb)?;
    let depth: Vec<u8> = frame
        .depth_m
        .iter()
        .flat_map(|d| ((d * 1000.0).round().clamp(0.0, 65535.0) as u16).to_be_bytes())
        .collect();
    let sixteen = png::BitDepth::Sixteen;
    write_png(
        &paths.depth,
        w,
        h,
        png::ColorType::Grayscale,
        sixteen,
        &depth,
    )?;
    let seg: Vec<u8> = frame.seg.iter().flat_map(|&i| seg_color(i)).collect();
    write_png(&paths.seg, w, h, png::ColorType::Rgb, eight, &seg)?;
    Ok(paths)
}

/// Read a PNG of any colour type as 8-bit RGB: `(rgb, width, height)`.
pub fn read_rgb(path: &Path) -> Result<(Vec<u8>, usize, usize), PngReadError> {
    let file = std::fs::File::open(path).map_err(|source| PngReadError::Open {
        path: path.to_owned(),
        source,
    })?;
    let decode = |source| PngReadError::Decode {
        path: path.to_owned(),
        source,
    };
    let unsupported = |message: &str| PngReadError::Unsupported {
        path: path.to_owned(),
        message: message.to_owned(),
    };
    let mut decoder = png::Decoder::new(std::io::BufReader::new(file));
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder.read_info().map_err(decode)?;
    let size = reader
        .output_buffer_size()
        .ok_or_else(|| unsupported("image too large"))?;
    let mut buf = vec![0; size];
    let info = reader.next_frame(&mut buf).map_err(decode)?;
    let (w, h) = (info.width as usize, info.height as usize);
    let rgb: Vec<u8> = match info.color_type {
        png::ColorType::Rgb => buf[..w * h * 3].to_vec(),
        png::ColorType::Rgba => buf[..w * h * 4]
            .chunks_exact(4)
            .flat_map(|p| [p[0], p[1], p[2]])
            .collect(),
        png::ColorType::Grayscale => buf[..w * h].iter().flat_map(|&g| [g, g, g]).collect(),
        png::ColorType::GrayscaleAlpha => buf[..w * h * 2]
            .chunks_exact(2)
            .flat_map(|p| [p[0], p[0], p[0]])
            .collect(),
        png::ColorType::Indexed => return Err(unsupported("indexed PNG not expanded")),
    };
    Ok((rgb, w, h))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn a_frame_is_written_and_read_back() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenes");
        let scene = cap_core::scene::Scene::load(dir.join("tabletop.toml"))
            .unwrap_or_else(|e| panic!("{e}"));
        let w = cap_sim::prelude::World::new(Arc::new(scene), 0).unwrap_or_else(|e| panic!("{e}"));
        let f = w.render(&w.scene().cameras[0]);
        let out = std::env::temp_dir().join(format!("cap-png-io-{}", std::process::id()));
        let p = write_pngs(&f, &out, "front").unwrap_or_else(|e| panic!("{e}"));
        for path in [&p.rgb, &p.depth, &p.seg] {
            let bytes = std::fs::read(path).unwrap_or_default();
            assert_eq!(&bytes[1..4], b"PNG", "{}", path.display());
        }
        let (rgb, width, height) = read_rgb(&p.rgb).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((width as u32, height as u32), (f.width, f.height));
        assert_eq!(rgb, f.rgb, "RGB round-trips exactly");
        // The 16-bit depth image reads back as grey (normalised to 8 bits).
        let (grey, ..) = read_rgb(&p.depth).unwrap_or_else(|e| panic!("{e}"));
        assert!(grey.chunks_exact(3).all(|p| p[0] == p[1] && p[1] == p[2]));
        std::fs::remove_dir_all(out).ok();
    }

    #[test]
    fn a_missing_or_broken_file_names_itself() {
        let missing = Path::new("/nonexistent/cap/x.png");
        let e = read_rgb(missing)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            e.contains("/nonexistent/cap/x.png") && e.contains("cannot open"),
            "{e}"
        );
        let bad = std::env::temp_dir().join(format!("cap-not-png-{}.png", std::process::id()));
        std::fs::write(&bad, b"hello").ok();
        let e = read_rgb(&bad)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("not a PNG"), "{e}");
        std::fs::remove_file(bad).ok();
    }

    #[test]
    fn segmentation_colours_are_distinct() {
        let c: Vec<[u8; 3]> = (0..11).map(seg_color).collect();
        for i in 0..c.len() {
            for j in i + 1..c.len() {
                assert_ne!(c[i], c[j], "ids {i} and {j}");
            }
        }
    }
}
