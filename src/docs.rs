//! Registry documentation generated from the schemas' descriptions, in the tfplugindocs
//! layout, with the examples under `examples/` embedded. `cargo run --example docs`
//! (`tools/docs.rs`) writes it; a test fails when the committed pages differ from what this renders.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::{Path, PathBuf};

use crate::resources::{self, HikubeProvider};
use crate::tfplugin::ProviderHandler;
use crate::tfplugin::schema::{Attribute, AttributeType, Block, Nesting, Schema};
use crate::tfplugin::value::Type;

/// Every page, by path relative to the repository root.
pub fn render(root: &Path) -> std::io::Result<BTreeMap<PathBuf, String>> {
    let provider = HikubeProvider::default();
    let mut pages = BTreeMap::new();
    let example = |path: &str| std::fs::read_to_string(root.join(path));
    pages.insert(
        PathBuf::from("docs/index.md"),
        page(
            "hikube Provider",
            "Provider",
            "hikube",
            &provider.provider_schema(),
            &example("examples/provider/provider.tf")?,
            None,
        ),
    );
    for resource in resources::all() {
        let name = resource.type_name();
        let short = name.strip_prefix("hikube_").unwrap_or(name);
        let import = example(&format!("examples/resources/{name}/import.sh"))?;
        pages.insert(
            PathBuf::from(format!("docs/resources/{short}.md")),
            page(
                &format!("{name} Resource - terraform-provider-hikube"),
                "Resource",
                name,
                &resource.schema(),
                &example(&format!("examples/resources/{name}/resource.tf"))?,
                Some(&import),
            ),
        );
    }
    for data_source in resources::data_sources() {
        let name = data_source.type_name();
        let short = name.strip_prefix("hikube_").unwrap_or(name);
        pages.insert(
            PathBuf::from(format!("docs/data-sources/{short}.md")),
            page(
                &format!("{name} Data Source - terraform-provider-hikube"),
                "Data Source",
                name,
                &data_source.schema(),
                &example(&format!("examples/data-sources/{name}/data-source.tf"))?,
                None,
            ),
        );
    }
    Ok(pages)
}

fn page(title: &str, kind: &str, name: &str, schema: &Schema, example: &str, import: Option<&str>) -> String {
    let mut out = String::new();
    let description = &schema.block.description;
    let _ = writeln!(
        out,
        "---\npage_title: \"{title}\"\nsubcategory: \"\"\ndescription: |-\n  {}\n---\n",
        description.replace('\n', "\n  ")
    );
    let _ = writeln!(out, "# {name} ({kind})\n\n{description}\n");
    let _ = writeln!(out, "## Example Usage\n\n```terraform\n{}\n```\n", example.trim_end());
    let _ = writeln!(out, "## Schema\n");
    let mut nested = Vec::new();
    block_sections(&mut out, &schema.block, "", &mut nested);
    while !nested.is_empty() {
        for (anchor, title, attrs) in std::mem::take(&mut nested) {
            let _ = writeln!(out, "<a id=\"{anchor}\"></a>\n### Nested Schema for `{title}`\n");
            let block = Block { description: String::new(), attributes: attrs };
            block_sections(&mut out, &block, &format!("{title}."), &mut nested);
        }
    }
    if let Some(import) = import {
        let _ = writeln!(
            out,
            "## Import\n\nImport is supported using the following syntax:\n\n```shell\n{}\n```",
            import.trim_end()
        );
    }
    out.trim_end().to_string() + "\n"
}

type NestedSection = (String, String, Vec<Attribute>);

/// A section heading of the schema and which attributes it lists.
type Section = (&'static str, fn(&Attribute) -> bool);

fn block_sections(out: &mut String, block: &Block, prefix: &str, nested: &mut Vec<NestedSection>) {
    let groups: [Section; 3] = [
        ("Required", |a| a.required),
        ("Optional", |a| a.optional),
        ("Read-Only", |a| a.computed && !a.optional && !a.required),
    ];
    for (heading, belongs) in groups {
        let mut attrs: Vec<&Attribute> = block.attributes.iter().filter(|a| belongs(a)).collect();
        attrs.sort_by(|a, b| a.name.cmp(&b.name));
        if attrs.is_empty() {
            continue;
        }
        let _ = writeln!(out, "### {heading}\n");
        for attr in attrs {
            let mut line = format!("- `{}` ({})", attr.name, type_name(attr));
            if attr.sensitive {
                line.push_str(", Sensitive");
            }
            if attr.write_only {
                line.push_str(", [Write-only](https://developer.hashicorp.com/terraform/language/resources/ephemeral#write-only-arguments)");
            }
            line.push(' ');
            line.push_str(&attr.description);
            if let AttributeType::Nested(_, children) = &attr.ty {
                let path = format!("{prefix}{}", attr.name);
                let anchor = format!("nestedatt--{}", path.replace('.', "--"));
                let _ = write!(line, " (see [below for nested schema](#{anchor}))");
                nested.push((anchor, path, children.clone()));
            }
            let _ = writeln!(out, "{line}");
        }
        let _ = writeln!(out);
    }
}

fn type_name(attr: &Attribute) -> String {
    match &attr.ty {
        AttributeType::Nested(Nesting::Single, _) => "Attributes".into(),
        AttributeType::Nested(Nesting::List, _) => "Attributes List".into(),
        AttributeType::Nested(Nesting::Set, _) => "Attributes Set".into(),
        AttributeType::Nested(Nesting::Map, _) => "Attributes Map".into(),
        AttributeType::Plain(t) => plain(t),
    }
}

fn plain(t: &Type) -> String {
    match t {
        Type::Bool => "Boolean".into(),
        Type::Number => "Number".into(),
        Type::String => "String".into(),
        Type::Dynamic => "Dynamic".into(),
        Type::List(e) => format!("List of {}", plain(e)),
        Type::Set(e) => format!("Set of {}", plain(e)),
        Type::Map(e) => format!("Map of {}", plain(e)),
        Type::Object(_) => "Object".into(),
        Type::Tuple(_) => "Tuple".into(),
    }
}
