//! `hako list`.

use super::Ctx;
use crate::cli::ListArgs;
use crate::container::StateDoc;
use crate::error::{Error, Result};
use crate::state::Lock;

/// `list`.
pub fn run(ctx: &Ctx, args: &ListArgs) -> Result<()> {
    let mut docs = Vec::new();
    for id in ctx.store.ids()? {
        // A directory may vanish (delete) between listing and opening.
        let Ok(dir) = ctx.store.open(&id, Lock::Shared) else {
            continue;
        };
        let Ok(state) = dir.load() else { continue };
        docs.push(StateDoc::new(&dir, &state));
    }
    if args.quiet {
        for d in &docs {
            crate::output::print(&format!("{}\n", d.id));
        }
        return Ok(());
    }
    if args.format == "json" {
        let text = serde_json::to_string(&docs)
            .map_err(|e| Error::invalid(format!("encoding list: {e}")))?;
        crate::output::print(&format!("{text}\n"));
        return Ok(());
    }
    let mut rows = vec![["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]
        .map(String::from)
        .to_vec()];
    for d in &docs {
        rows.push(vec![
            d.id.clone(),
            d.pid.to_string(),
            d.status.clone(),
            d.bundle.display().to_string(),
            d.created.clone(),
            d.owner.clone(),
        ]);
    }
    crate::output::print(&table(&rows));
    Ok(())
}

/// Aligns columns as runc's tabwriter does (min width 12, padding 3).
pub fn table(rows: &[Vec<String>]) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .map(|r| r.get(c).map_or(0, |s| s.chars().count()))
                .max()
                .unwrap_or(0)
                .saturating_add(3)
                .max(12)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            if c + 1 == row.len() {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<w$}", w = widths[c]));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn columns_align() {
        let rows = vec![
            vec!["ID".to_string(), "PID".into(), "X".into()],
            vec!["a-long-container-id".into(), "1".into(), "y".into()],
        ];
        let t = super::table(&rows);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines[0].find("PID"), lines[1].find('1'));
        assert_eq!(lines[0].find("PID"), Some(22));
    }
}
