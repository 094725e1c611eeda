// SPDX-License-Identifier: MPL-2.0
//! A show's chain as plain data, (factory, properties) in link order, and
//! the one place it becomes GStreamer elements. Being data, two plans can be
//! compared: the test that the live and offline graphs run the same chain
//! compares what each builder made against the same plan.

use std::path::Path;

use gst::prelude::*;

use crate::error::Result;
use crate::factories::plugin;

/// What a step is in the show, for the builder that switches it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Part {
    Track,
    /// The face swap of the character at this index.
    Swap(usize),
    /// The lip-sync at this index of the show's lip-syncs.
    Lips(usize),
    Matte,
    /// The voice of the character at this index.
    Voice(usize),
}

/// A property value, as the element's property type wants it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Prop {
    Text(String),
    /// An enum property, by nick.
    Choice(&'static str),
    Real(f64),
    Count(u32),
    Flag(bool),
}

impl Prop {
    pub(crate) fn path(path: &Path) -> Self {
        Prop::Text(path.to_string_lossy().into_owned())
    }

    fn set(&self, element: &gst::Element, name: &str) {
        match self {
            Prop::Text(text) => element.set_property(name, text.as_str()),
            Prop::Choice(nick) => element.set_property_from_str(name, nick),
            Prop::Real(value) => element.set_property(name, *value),
            Prop::Count(value) => element.set_property(name, *value),
            Prop::Flag(value) => element.set_property(name, *value),
        }
    }

    /// Whether `element`'s property `name` holds this value.
    #[cfg(test)]
    pub(crate) fn is_set_on(&self, element: &gst::Element, name: &str) -> bool {
        let value = element.property_value(name);
        match self {
            Prop::Text(text) => value.get::<Option<String>>().ok().flatten().as_deref() == Some(text.as_str()),
            Prop::Choice(nick) => gst::glib::EnumValue::from_value(&value).is_some_and(|(_, v)| v.nick() == *nick),
            Prop::Real(v) => value.get::<f64>().ok() == Some(*v),
            Prop::Count(v) => value.get::<u32>().ok() == Some(*v),
            Prop::Flag(v) => value.get::<bool>().ok() == Some(*v),
        }
    }
}

/// One element of the chain.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Step {
    pub(crate) factory: &'static str,
    pub(crate) part: Part,
    pub(crate) properties: Vec<(&'static str, Prop)>,
}

impl Step {
    pub(crate) fn new(factory: &'static str, part: Part) -> Self {
        Step { factory, part, properties: Vec::new() }
    }

    pub(crate) fn with(mut self, name: &'static str, value: Prop) -> Self {
        self.properties.push((name, value));
        self
    }

    /// The element, its properties set.
    pub(crate) fn make(&self) -> Result<gst::Element> {
        let element = plugin(self.factory)?;
        for (name, value) in &self.properties {
            value.set(&element, name);
        }
        Ok(element)
    }

    /// Whether `element` is of this step's factory with its properties.
    #[cfg(test)]
    pub(crate) fn matches(&self, element: &gst::Element) -> bool {
        let factory = element.factory().map(|f| f.name().to_string());
        factory.as_deref() == Some(self.factory) && self.properties.iter().all(|(n, v)| v.is_set_on(element, n))
    }
}

/// The steps of a chain, in link order.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Plan {
    pub(crate) steps: Vec<Step>,
}

impl Plan {
    pub(crate) fn push(&mut self, step: Step) {
        self.steps.push(step);
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// Every step made into its element, paired with its part.
    pub(crate) fn make(&self) -> Result<Built> {
        let elements = self.steps.iter().map(|s| Ok((s.part, s.make()?))).collect::<Result<_>>()?;
        Ok(Built { elements })
    }
}

/// A plan's elements, in link order.
#[derive(Debug, Default)]
pub(crate) struct Built {
    pub(crate) elements: Vec<(Part, gst::Element)>,
}

impl Built {
    /// The element of `part`, if the plan has one.
    pub(crate) fn get(&self, part: Part) -> Option<&gst::Element> {
        self.elements.iter().find(|(p, _)| *p == part).map(|(_, e)| e)
    }

    /// The elements, in link order.
    pub(crate) fn all(&self) -> Vec<gst::Element> {
        self.elements.iter().map(|(_, e)| e.clone()).collect()
    }
}
