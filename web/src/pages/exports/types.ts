import type { paths } from '../../api/schema';

type Json<T> = T extends { content: { 'application/json': infer B } } ? B : never;
type Ok<P extends keyof paths, M extends 'get' | 'post'> = paths[P][M] extends { responses: { 200: infer R } } ? Json<R> : never;

/** The types of the 归档 pages, taken from the generated schema. */
export type CaseSummary = Ok<'/api/v1/cases', 'get'>['items'][number];
export type CaseDetail = Ok<'/api/v1/cases/{id}', 'get'>;
export type ExportView = Ok<'/api/v1/exports/{id}', 'get'>;
export type ExportJob = Ok<'/api/v1/exports', 'get'>['items'][number];
export type ExportRecord = NonNullable<ExportView['record']>;
