import { onMounted, ref, type Ref } from 'vue';
import { api, data } from '../../api/client';
import { errorText } from '../../api/errors';
import type { ExportRecord } from './types';

/** The export's record (what the ledger says of it), for the print pages. */
export function useRecord(id: () => string): { record: Ref<ExportRecord | null>; failure: Ref<string>; missing: Ref<boolean> } {
  const record = ref<ExportRecord | null>(null);
  const failure = ref('');
  const missing = ref(false);
  onMounted(async () => {
    try {
      const v = await data(api.GET('/api/v1/exports/{id}', { params: { path: { id: id() } } }));
      if (v.record) record.value = v.record;
      else missing.value = true;
    } catch (e) {
      failure.value = errorText(e);
    }
  });
  return { record, failure, missing };
}
