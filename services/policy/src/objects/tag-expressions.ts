// Validation of tags and tag expressions (SPEC §1.1, §1.2). An expression's patterns may use `*` in a
// value and `key!=value`; the API refuses what would be ambiguous or would let everyone in. What is
// already stored is read with the lenient schema: a pattern refused today keeps its old, exact meaning
// there, and a list of negations only matches nothing (matching/tag-expression.ts), so that no stored
// object — a Reject policy least of all — is lost when these rules arrive.
import { z } from '@microseg/config';
import { compileTagPattern, tagPatternProblem } from '../matching/tag-pattern.ts';

const TAG_FORM = /^[^=\s]+=.*$/;
export const tag = z.string().regex(TAG_FORM, 'must be a tag of the form key=value');
/** An object's own tags: data, not patterns (a `*` or `!` in them is a character like any other). */
export const userTag = tag.refine((t) => !/^[$@+]/.test(t), 'keys starting with $, @ or + are reserved for the system');

export const NEGATIONS_ONLY_MESSAGE =
  'holds only negations (key!=value), which would let in everyone without those tags, even a user whose IdP sends no such claim: add a tag that must be present, such as email_verified=true or email=*@example.com';

const pattern = z.string().superRefine((text, ctx) => {
  if (text === '') {
    // What YAML makes of an unquoted `- !groups=x`: a YAML tag on an empty value.
    ctx.addIssue({
      code: 'custom',
      message: 'is empty: it must be a tag of the form key=value (in YAML, a plain value that starts with ! is a YAML tag; write a negation as key!=value)',
    });
    return;
  }
  const problem = TAG_FORM.test(text) ? tagPatternProblem(text) : 'must be a tag of the form key=value';
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

/** A list whose every well-formed pattern is a negation (an empty list stays allowed: it matches nothing). */
function onlyNegations(list: readonly string[]): boolean {
  const patterns = list.filter((t) => TAG_FORM.test(t) && tagPatternProblem(t) === undefined).map(compileTagPattern);
  return patterns.length > 0 && patterns.every((p) => p.negated) && patterns.length === list.length;
}

const andList = z.array(pattern).superRefine((list, ctx) => {
  if (onlyNegations(list)) ctx.addIssue({ code: 'custom', message: NEGATIONS_ONLY_MESSAGE });
});

/** Input: the API, imports, bootstrap files. */
export const tagExpression = z.array(andList);

/** Stored objects, as an older version may have written them. */
export const storedTagExpression = z.array(z.array(tag));

/** Either of the two: the same shape, checked more or less strictly. */
export type TagExpressionSchema = typeof tagExpression;
