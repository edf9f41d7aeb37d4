/**
 * Checks error answers against the error table (lib/errors.ts): the endpoint and end-to-end tests
 * record every error body they see, and a last test in each file compares them with what the table
 * declares, so an extra field the code sends but the table (and so the docs) lacks fails a test.
 */
import { ERRORS, type ErrorCode, errorFieldsOf } from '../lib/errors';

const BASE_FIELDS = ['success', 'error', 'reason', 'message'];

export interface SeenError {
    status: number;
    body: Record<string, unknown>;
}

/** What is wrong with one error answer, compared with the table; empty when nothing is. */
export function findErrorBodyProblems({ status, body }: SeenError): string[] {
    const code = body.error as ErrorCode;
    if (!Object.prototype.hasOwnProperty.call(ERRORS, code)) return [`unknown code ${String(code)}`];
    const problems: string[] = [];
    if (ERRORS[code].status !== status) problems.push(`${code}: status ${status}, the table says ${ERRORS[code].status}`);
    const declared = errorFieldsOf(code);
    for (const [name, value] of Object.entries(body)) {
        if (BASE_FIELDS.includes(name)) continue;
        const type = declared[name];
        if (type === undefined) problems.push(`${code}: sends ${name}, which the table does not declare`);
        else if (type.startsWith('integer') ? !Number.isInteger(value) : typeof value !== 'string') problems.push(`${code}: ${name} is not ${type}`);
    }
    for (const [name, type] of Object.entries(declared)) {
        if (!type.endsWith('?') && !(name in body)) problems.push(`${code}: lacks ${name}, which the table declares`);
    }
    return problems;
}

/**
 * For each code `seen` has answers of, the declared fields none of them showed, as `code.field`: a
 * field the table declares should be in some answer (an optional one at least once).
 */
export function findUnseenFields(seen: SeenError[]): string[] {
    const shown = new Set(seen.flatMap(({ body }) => Object.keys(body).map((name) => `${String(body.error)}.${name}`)));
    const codes = [...new Set(seen.map(({ body }) => body.error as ErrorCode))].filter((code) => Object.prototype.hasOwnProperty.call(ERRORS, code));
    return codes.flatMap((code) => Object.keys(errorFieldsOf(code)).map((name) => `${code}.${name}`)).filter((f) => !shown.has(f));
}
