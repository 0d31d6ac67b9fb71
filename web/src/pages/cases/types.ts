import type { paths } from '../../api/schema';

type Json<T> = T extends { content: { 'application/json': infer B } } ? B : never;

/** The case types the pages use, taken from the generated schema. */
export type CaseSummary = Json<paths['/api/v1/cases']['get']['responses'][200]>['items'][number];
export type CaseDetail = Json<paths['/api/v1/cases/{id}']['get']['responses'][200]>;
export type Hold = CaseDetail['holds'][number];
