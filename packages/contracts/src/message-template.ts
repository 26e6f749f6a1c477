/** Values for a message template's `{name}` placeholders. */
export type ErrorParams = Readonly<Record<string, string | number | boolean>>;

/** The placeholder names of a template literal type: `'Job {jobId} in {state}'` gives `'jobId' | 'state'`. */
export type Placeholders<T extends string> = T extends `${string}{${infer Name}}${infer Rest}` ? Name | Placeholders<Rest> : never;

/** Fills `{name}` from params; a placeholder without a value stays as it is, so a missing param shows. */
export function fillTemplate(template: string, params: ErrorParams): string {
  return template.replace(/\{(\w+)\}/g, (whole, key: string) =>
    Object.prototype.hasOwnProperty.call(params, key) ? String(params[key]) : whole,
  );
}
