'use strict'

// Plain-text tables for the bench's stdout: a title, a header row, aligned columns.

/**
 * `columns`: [{ title, value: (row) => string|number|null, align: 'left'|'right' }]. Numbers are
 * printed as given (format them in `value`); null prints as '-'.
 */
function formatTable (title, columns, rows) {
  const cells = rows.map((row) => columns.map((column) => {
    const value = column.value(row)
    return value === null || value === undefined ? '-' : String(value)
  }))
  const widths = columns.map((column, i) => Math.max(column.title.length, ...cells.map((line) => line[i].length)))
  const pad = (text, i) => columns[i].align === 'left' ? text.padEnd(widths[i]) : text.padStart(widths[i])
  const line = (texts) => texts.map(pad).join('  ').trimEnd()
  return [
    `\n${title}`,
    line(columns.map((column) => column.title)),
    line(widths.map((width) => '-'.repeat(width))),
    ...cells.map(line)
  ].join('\n')
}

/** `value` with `digits` decimals, or null when it is not a finite number. */
function fixed (value, digits) {
  return typeof value === 'number' && Number.isFinite(value) ? value.toFixed(digits) : null
}

/** A 0..1 share as a percentage of one core. */
function percent (share, digits = 0) {
  return typeof share === 'number' && Number.isFinite(share) ? `${(share * 100).toFixed(digits)}%` : null
}

module.exports = { formatTable, fixed, percent }
