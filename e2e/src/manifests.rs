//! Rendered manifests, read back as k8s-openapi types.

use anyhow::{Context, Result};
use k8s_openapi::Resource;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Every object of a multi-document YAML stream.
#[derive(Debug, Clone)]
pub struct Manifests {
    objects: Vec<Value>,
}

impl Manifests {
    /// Every document of `yaml`; empty ones (a template that rendered nothing) are skipped.
    pub fn parse(yaml: &str) -> Result<Manifests> {
        let objects: Vec<Value> = serde_saphyr::from_multiple(yaml).context("rendered YAML")?;
        Ok(Manifests {
            objects: objects
                .into_iter()
                .filter(|value| !value.is_null())
                .collect(),
        })
    }

    /// Every object, in render order.
    pub fn objects(&self) -> &[Value] {
        &self.objects
    }

    /// `(kind, name)` of every object, in render order.
    pub fn kinds_and_names(&self) -> Vec<(String, String)> {
        self.objects
            .iter()
            .map(|object| {
                (
                    object["kind"].as_str().unwrap_or_default().to_owned(),
                    object["metadata"]["name"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                )
            })
            .collect()
    }

    /// The raw object of `kind` named `name`.
    pub fn raw(&self, kind: &str, name: &str) -> Option<&Value> {
        self.objects
            .iter()
            .find(|object| object["kind"] == kind && object["metadata"]["name"] == name)
    }

    /// The object of type `K` named `name`, if rendered.
    pub fn find<K: Resource + DeserializeOwned>(&self, name: &str) -> Option<K> {
        self.raw(K::KIND, name).map(|object| {
            serde_json::from_value(object.clone()).unwrap_or_else(|error| {
                panic!("{} {name} does not match its schema: {error}", K::KIND)
            })
        })
    }

    /// The object of type `K` named `name`; panics naming it if it was not rendered.
    pub fn get<K: Resource + DeserializeOwned>(&self, name: &str) -> K {
        self.find(name).unwrap_or_else(|| {
            panic!(
                "no {} named {name} rendered; rendered: {:?}",
                K::KIND,
                self.kinds_and_names()
            )
        })
    }

    /// Every object of type `K`.
    pub fn all<K: Resource + DeserializeOwned>(&self) -> Vec<K> {
        self.objects
            .iter()
            .filter(|object| object["kind"] == K::KIND && object["apiVersion"] == K::API_VERSION)
            .map(|object| {
                serde_json::from_value(object.clone()).expect("object matches its schema")
            })
            .collect()
    }
}

/// `Kind name` of an object, for messages.
fn label(object: &Value) -> String {
    format!(
        "{} {}",
        object["kind"].as_str().unwrap_or("?"),
        object["metadata"]["name"].as_str().unwrap_or("?")
    )
}

/// Every difference between two renders (or two revisions' manifests), one line each:
/// `Deployment todo-chatbot-backend: spec.replicas: 2 -> 4`, `+ ConfigMap x`, `- Service y`.
/// Objects are matched by apiVersion, kind, namespace and name; lists are compared item by item.
pub fn changes(before: &Manifests, after: &Manifests) -> Vec<String> {
    let key = |object: &Value| {
        (
            object["apiVersion"].to_string(),
            object["kind"].to_string(),
            object["metadata"]["namespace"].to_string(),
            object["metadata"]["name"].to_string(),
        )
    };
    let mut out = Vec::new();
    for old in &before.objects {
        match after.objects.iter().find(|new| key(new) == key(old)) {
            Some(new) => diff(&label(old), "", old, new, &mut out),
            None => out.push(format!("- {}", label(old))),
        }
    }
    for new in &after.objects {
        if !before.objects.iter().any(|old| key(old) == key(new)) {
            out.push(format!("+ {}", label(new)));
        }
    }
    out
}

fn diff(object: &str, path: &str, old: &Value, new: &Value, out: &mut Vec<String>) {
    let child = |key: &str| {
        if path.is_empty() {
            key.to_owned()
        } else {
            format!("{path}.{key}")
        }
    };
    match (old, new) {
        (Value::Object(a), Value::Object(b)) => {
            let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            for key in keys {
                let missing = Value::Null;
                diff(
                    object,
                    &child(key),
                    a.get(key).unwrap_or(&missing),
                    b.get(key).unwrap_or(&missing),
                    out,
                );
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (index, (x, y)) in a.iter().zip(b).enumerate() {
                diff(object, &format!("{path}[{index}]"), x, y, out);
            }
        }
        _ if old != new => out.push(format!("{object}: {path}: {old} -> {new}")),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BEFORE: &str = "
apiVersion: apps/v1
kind: Deployment
metadata: {name: todo-chatbot-backend, namespace: default}
spec:
  replicas: 2
  template:
    metadata: {annotations: {checksum/config: abc}}
    spec:
      containers: [{name: backend, image: 'todo-chatbot-backend:latest'}]
---
apiVersion: v1
kind: Service
metadata: {name: todo-chatbot-prometheus, namespace: default}
";

    #[test]
    fn identical_manifests_have_no_changes() {
        let manifests = Manifests::parse(BEFORE).unwrap();
        assert!(changes(&manifests, &manifests).is_empty());
    }

    #[test]
    fn a_scaled_deployment_differs_in_its_replicas_only() {
        let before = Manifests::parse(BEFORE).unwrap();
        let after = Manifests::parse(&BEFORE.replace("replicas: 2", "replicas: 4")).unwrap();
        assert_eq!(
            changes(&before, &after),
            ["Deployment todo-chatbot-backend: spec.replicas: 2 -> 4"]
        );
    }

    #[test]
    fn changed_images_annotations_and_removed_objects_are_all_named() {
        let before = Manifests::parse(BEFORE).unwrap();
        let after_text = BEFORE
            .replace(
                "todo-chatbot-backend:latest",
                "todo-chatbot-backend:0123abc",
            )
            .replace("checksum/config: abc", "checksum/config: def")
            .split("---")
            .next()
            .unwrap()
            .to_owned();
        let after = Manifests::parse(&after_text).unwrap();
        assert_eq!(
            changes(&before, &after),
            [
                "Deployment todo-chatbot-backend: spec.template.metadata.annotations.checksum/config: \"abc\" -> \"def\"",
                "Deployment todo-chatbot-backend: spec.template.spec.containers[0].image: \"todo-chatbot-backend:latest\" -> \"todo-chatbot-backend:0123abc\"",
                "- Service todo-chatbot-prometheus",
            ]
        );
        assert_eq!(
            changes(&after, &before).last().unwrap(),
            "+ Service todo-chatbot-prometheus"
        );
    }
}
