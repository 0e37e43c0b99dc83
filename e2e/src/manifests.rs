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
    pub fn parse(yaml: &str) -> Result<Manifests> {
        let mut objects = Vec::new();
        for document in serde_yaml::Deserializer::from_str(yaml) {
            let value: Value =
                serde::Deserialize::deserialize(document).context("rendered YAML")?;
            if !value.is_null() {
                objects.push(value);
            }
        }
        Ok(Manifests { objects })
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
