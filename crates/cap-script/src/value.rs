//! Conversions between rhai values, JSON (for traces) and checked primitive arguments.

use cap_core::failure::{Failure, FailureKind};
use cap_core::nalgebra::Point3;
use rhai::{Array, Dynamic, Map, FLOAT, INT};
use serde_json::Value;

/// A rhai value as JSON, for the trace. Non-finite floats become strings so the trace
/// stays valid JSON.
pub fn to_json(d: &Dynamic) -> Value {
    if d.is_unit() {
        Value::Null
    } else if let Some(b) = d.clone().try_cast::<bool>() {
        Value::Bool(b)
    } else if let Some(i) = d.clone().try_cast::<INT>() {
        Value::from(i)
    } else if let Some(f) = d.clone().try_cast::<FLOAT>() {
        serde_json::Number::from_f64(f).map_or_else(|| Value::String(f.to_string()), Value::Number)
    } else if d.is_string() {
        Value::String(d.to_string())
    } else if let Some(a) = d.read_lock::<Array>() {
        Value::Array(a.iter().map(to_json).collect())
    } else if let Some(m) = d.read_lock::<Map>() {
        // rhai maps are BTreeMaps: iteration is already sorted.
        Value::Object(m.iter().map(|(k, v)| (k.to_string(), to_json(v))).collect())
    } else {
        Value::String(format!("<{}>", d.type_name()))
    }
}

fn bad(function: &str, param: &str, what: &str, got: &Dynamic) -> Failure {
    Failure::new(
        FailureKind::InvalidArgument,
        format!(
            "{function}: argument `{param}` must be {what}, got {} ({})",
            got.type_name(),
            short(got)
        ),
    )
}

fn short(d: &Dynamic) -> String {
    let s = d.to_string();
    if s.chars().count() > 40 {
        format!("{}…", s.chars().take(40).collect::<String>())
    } else {
        s
    }
}

/// A finite number (integer or float).
pub fn number(function: &str, param: &str, d: &Dynamic) -> Result<f64, Failure> {
    let v = if let Some(f) = d.clone().try_cast::<FLOAT>() {
        f
    } else if let Some(i) = d.clone().try_cast::<INT>() {
        i as f64
    } else {
        return Err(bad(function, param, "a number", d));
    };
    if !v.is_finite() {
        return Err(Failure::new(
            FailureKind::InvalidArgument,
            format!("{function}: argument `{param}` must be finite, got {v}"),
        ));
    }
    Ok(v)
}

/// A point `[x, y, z]` of finite numbers.
pub fn point(function: &str, param: &str, d: &Dynamic) -> Result<Point3<f64>, Failure> {
    let Some(a) = d.read_lock::<Array>() else {
        return Err(bad(function, param, "an array [x, y, z]", d));
    };
    if a.len() != 3 {
        return Err(Failure::new(
            FailureKind::InvalidArgument,
            format!(
                "{function}: argument `{param}` must have 3 numbers [x, y, z], got {}",
                a.len()
            ),
        ));
    }
    let mut p = [0.0; 3];
    for (i, v) in a.iter().enumerate() {
        p[i] = number(function, &format!("{param}[{i}]"), v)?;
    }
    Ok(Point3::from(p))
}

/// A string.
pub fn string(function: &str, param: &str, d: &Dynamic) -> Result<String, Failure> {
    if d.is_string() {
        Ok(d.to_string())
    } else {
        Err(bad(function, param, "a string", d))
    }
}

/// `[x, y, z]` as a rhai array.
pub fn array3(v: [f64; 3]) -> Dynamic {
    Dynamic::from_array(v.iter().map(|x| Dynamic::from_float(*x)).collect())
}
