"""(being written)"""

from fastapi import APIRouter, Depends

from scimgate.admin.guard import admin_guard

router = APIRouter(prefix="/admin", include_in_schema=False, dependencies=[Depends(admin_guard)])
